package plans

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/avatar-project/avatar-sync/spec"
)

// declared counts the constants of type typ that the package declares in its iota blocks, read
// from its source, so the round trips below cover every one: a kind, action, risk, plane or status
// added without a name (or a kind without a row in the kind table) fails TestEnumsRoundTrip (issue
// 20: its loop over kinds used to stop at KindInventory, and later at a hard-coded last kind).
func declared(t *testing.T, typ string) int {
	t.Helper()
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	fset := token.NewFileSet()
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".go") || strings.HasSuffix(e.Name(), "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, e.Name(), nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok || g.Tok != token.CONST || len(g.Specs) == 0 {
				continue
			}
			first := g.Specs[0].(*ast.ValueSpec)
			if id, ok := first.Type.(*ast.Ident); !ok || id.Name != typ {
				continue
			}
			for _, s := range g.Specs {
				n += len(s.(*ast.ValueSpec).Names)
			}
		}
	}
	if n == 0 {
		t.Fatalf("no constants of type %s found in the package's source", typ)
	}
	return n
}

func TestEnumsRoundTrip(t *testing.T) {
	na, nk, np, ns, nr := declared(t, "Action"), declared(t, "Kind"), declared(t, "PlaneID"), declared(t, "Status"), declared(t, "Risk")
	for a := Action(0); int(a) < na; a++ {
		var back Action
		b, _ := a.MarshalText()
		if err := back.UnmarshalText(b); err != nil || back != a || strings.HasPrefix(string(b), "unknown(") {
			t.Errorf("action %d: %q round-trips to %v (%v)", int(a), b, back, err)
		}
	}
	// Every kind declared has a complete row in the kind table and a name that round-trips.
	if len(kinds) != nk {
		t.Errorf("%d rows in the kind table for %d kinds", len(kinds), nk)
	}
	names := map[string]Kind{}
	for k := Kind(0); int(k) < nk; k++ {
		var back Kind
		b, _ := k.MarshalText()
		if err := back.UnmarshalText(b); err != nil || back != k || strings.HasPrefix(string(b), "unknown(") {
			t.Errorf("kind %d: %q round-trips to %v (%v)", int(k), b, back, err)
		}
		info := k.info()
		if info.name == "" || info.wave == nil || info.payload == nil || info.headline == nil {
			t.Errorf("kind %d (%q): its row lacks a name, wave, payload or headline", int(k), info.name)
		}
		if info.landed == nil && info.plane != PlaneKubernetes {
			t.Errorf("kind %s: a Kafka kind needs landed (apply's settle after a time-out reads it)", k)
		}
		if other, dup := names[info.name]; dup {
			t.Errorf("kinds %d and %d are both named %q", int(other), int(k), info.name)
		}
		names[info.name] = k
	}
	for pl := PlaneID(0); int(pl) < np; pl++ {
		var back PlaneID
		b, _ := pl.MarshalText()
		if err := back.UnmarshalText(b); err != nil || back != pl {
			t.Errorf("plane %v: %v %v", pl, back, err)
		}
	}
	for st := Status(0); int(st) < ns; st++ {
		if b, _ := st.MarshalText(); strings.HasPrefix(string(b), "unknown(") {
			t.Errorf("status %d has no name", st)
		}
	}
	for r := Risk(0); int(r) < nr; r++ {
		var back Risk
		b, _ := r.MarshalText()
		if err := back.UnmarshalText(b); err != nil || back != r {
			t.Errorf("risk %v: %v %v", r, back, err)
		}
	}
	var a Action
	if err := a.UnmarshalText([]byte("explode")); err == nil || !strings.Contains(err.Error(), "create") {
		t.Errorf("bad action: %v", err)
	}
	if s := Action(42).String(); s != "unknown(42)" {
		t.Errorf("Action(42) = %q", s)
	}
}

// TestDeletesCountedByTheKindTable: deletions are counted one way, by what the kind table says a
// deletion of the kind removes (the views' warnings and the mass-delete guard read it).
func TestDeletesCountedByTheKindTable(t *testing.T) {
	del := func(k Kind) Change { return Change{Kind: k, Name: k.String(), Action: Delete} }
	p := Plan{Parts: []Part{{Plane: PlaneKubernetes, Changes: []Change{del(KindObject)}},
		{Plane: PlaneKafka, Changes: []Change{del(KindTopic), del(KindTopic), del(KindACL), del(KindUser), del(KindQuota),
			{Kind: KindConfig, Name: "a", Action: Update}, {Kind: KindTopic, Name: "unmanaged", Action: NoOp}}}}}
	for r, want := range map[Removal]int{RemovesRecords: 2, RemovesAccess: 3, RemovesObject: 1, RemovesNothing: 0} {
		if got := p.Deletes(r); got != want {
			t.Errorf("Deletes(%d) = %d, want %d", r, got, want)
		}
	}
}

// TestAccessLanded: each access kind's row recognises its change in the live state, created or
// deleted; a change without its payload never counts as landed.
func TestAccessLanded(t *testing.T) {
	rule := spec.ACLRule{Principal: "User:gui5", Host: "*", Resource: "topic", Name: "a", Pattern: "literal", Operation: "Write", Permission: "allow"}
	user := UserPayload{User: "gui5", Mechanism: spec.MechanismSCRAM512, Fingerprint: "fp"}
	quota := QuotaPayload{User: "gui5", After: map[string]float64{QuotaProducerByteRate: 2048}}
	there := Live{Inventory: []string{ScramRecord("gui5", spec.MechanismSCRAM512, "fp")}, Access: LiveAccess{ACLs: []spec.ACLRule{rule},
		Credentials: []LiveCredential{{User: "gui5", Mechanism: spec.MechanismSCRAM512}},
		Quotas:      []LiveQuota{{User: "gui5", Values: map[string]float64{QuotaProducerByteRate: 2048}}}}}
	for _, c := range []Change{{Kind: KindACL, ACL: &ACLPayload{rule}}, {Kind: KindUser, User: &user}, {Kind: KindQuota, Quota: &quota}} {
		for _, tc := range []struct {
			action Action
			live   Live
			want   bool
		}{{Create, there, true}, {Create, Live{}, false}, {Delete, there, false}, {Delete, Live{}, true}} {
			c.Action = tc.action
			if got := Landed(c, tc.live); got != tc.want {
				t.Errorf("%s %s landed = %v, want %v", tc.action, c.Kind, got, tc.want)
			}
		}
	}
	if Landed(Change{Kind: KindQuota, Action: Delete}, Live{}) {
		t.Error("a quota change without its payload counts as landed")
	}
	if Landed(Change{Kind: KindObject, Action: Create, Object: &ObjectPayload{}}, there) {
		t.Error("an object change counts as landed; its plane re-plans instead")
	}
}

// TestEachChangeWalksAllChanges: the iterator yields what AllChanges lists, in order, for plans of
// no part, one part and two parts, and stops when the caller does.
func TestEachChangeWalksAllChanges(t *testing.T) {
	topic := Change{Kind: KindTopic, Name: "orders", Action: Create}
	config := Change{Kind: KindConfig, Name: "orders", Action: Update}
	object := Change{Kind: KindObject, Name: "StatefulSet/kafka-broker-1", Action: Update}
	for name, p := range map[string]Plan{
		"no part":   {},
		"one part":  {Parts: []Part{{Plane: PlaneKafka, Changes: []Change{topic, config}}}},
		"two parts": {Parts: []Part{{Plane: PlaneKubernetes, Changes: []Change{object}}, {Plane: PlaneKafka, Changes: []Change{topic, config}}}},
	} {
		got := slices.Collect(p.EachChange())
		if !reflect.DeepEqual(got, p.AllChanges()) && len(got)+len(p.AllChanges()) > 0 {
			t.Errorf("%s: EachChange %v, AllChanges %v", name, got, p.AllChanges())
		}
		for range p.EachChange() {
			break // a caller that stops early must not make the iterator yield again
		}
	}
}
