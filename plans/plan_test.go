package plans

import (
	"strings"
	"testing"
)

func TestEnumsRoundTrip(t *testing.T) {
	for a := NoOp; a <= Replace; a++ {
		var back Action
		b, _ := a.MarshalText()
		if err := back.UnmarshalText(b); err != nil || back != a {
			t.Errorf("action %v: %v %v", a, back, err)
		}
	}
	// Every kind, up to the last one declared: a kind added without a name fails here (issue 20:
	// this loop used to stop at KindInventory).
	if len(kinds) != int(KindQuota)+1 {
		t.Errorf("%d rows in the kind table for %d kinds", len(kinds), int(KindQuota)+1)
	}
	for k := Kind(0); int(k) < len(kinds); k++ {
		var back Kind
		b, _ := k.MarshalText()
		if err := back.UnmarshalText(b); err != nil || back != k || strings.HasPrefix(string(b), "unknown") {
			t.Errorf("kind %v: %v %v", k, back, err)
		}
	}
	for pl := PlaneKafka; pl <= PlaneKubernetes; pl++ {
		var back PlaneID
		b, _ := pl.MarshalText()
		if err := back.UnmarshalText(b); err != nil || back != pl {
			t.Errorf("plane %v: %v %v", pl, back, err)
		}
	}
	for st := NotAttempted; st <= Unknown; st++ {
		if b, _ := st.MarshalText(); strings.HasPrefix(string(b), "unknown(") {
			t.Errorf("status %d has no name", st)
		}
	}
	for r := RiskNone; r <= RiskUnsupported; r++ {
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
