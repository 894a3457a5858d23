package report

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/avatar-project/avatar-sync/plans"
	"github.com/avatar-project/avatar-sync/reconcile"
	"github.com/avatar-project/avatar-sync/spec"
	"github.com/avatar-project/avatar-sync/topics"
	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite golden files")

// obs builds a live topic with parts partitions of rf replicas and topic-level configs.
func obs(name string, parts, rf int, cfg map[string]string) topics.Observed {
	o := topics.Observed{Name: name, Replicas: map[int32][]int32{}, Config: map[string]topics.ConfigValue{}}
	for p := 0; p < parts; p++ {
		var reps []int32
		for r := 0; r < rf; r++ {
			reps = append(reps, int32((p+r)%3))
		}
		o.Replicas[int32(p)] = reps
	}
	for k, v := range cfg {
		o.Config[k] = topics.ConfigValue{Value: v, Source: topics.SourceTopic}
	}
	return o
}

// live is a cluster holding ts; managed names those in avatar-sync's inventory.
func live(managed []string, ts ...topics.Observed) plans.Live {
	l := plans.Live{ClusterID: "test-cluster", Brokers: []topics.Broker{{ID: 0, Rack: "a"}, {ID: 1, Rack: "b"}, {ID: 2, Rack: "c"}},
		Topics: map[string]topics.Observed{}, Inventory: managed}
	for _, t := range ts {
		l.Topics[t.Name] = t
	}
	return l
}

func topic(name string, parts, rf int, cfg map[string]string) spec.Topic {
	return spec.Topic{Name: name, Partitions: parts, ReplicationFactor: rf, Config: cfg}
}

// SamplePlan exercises every action, kind and risk the renderers know, and an advisory.
func samplePlan() plans.Plan {
	want := spec.Spec{Deletion: spec.DeletionPrune, Topics: []spec.Topic{
		topic("eeg-brainwave-data", 3, 3, map[string]string{"retention.ms": "3600000", "segment.ms": "600000", "min.insync.replicas": "2"}),
		topic("prediction-results", 6, 3, map[string]string{"retention.ms": "21600000", "retention.bytes": "1073741824"}),
		topic("drone-commands", 3, 3, map[string]string{"retention.ms": "86400000", "cleanup.policy": "compact"}),
		topic("telemetry", 2, 3, nil),
		topic("replays", 2, 3, nil),
	}}
	pred := obs("prediction-results", 3, 3, map[string]string{"retention.ms": "604800000"})
	pred.Config["retention.bytes"] = topics.ConfigValue{Value: "-1", Source: topics.SourceDefault}
	drone := obs("drone-commands", 3, 3, map[string]string{"retention.ms": "86400000", "max.message.bytes": "2097152"})
	drone.Config["cleanup.policy"] = topics.ConfigValue{Value: "delete", Source: topics.SourceStaticBroker}
	have := live([]string{"prediction-results", "drone-commands", "telemetry", "legacy-scores", "old-a", "old-b", "old-c"},
		pred, drone, obs("telemetry", 4, 3, nil), obs("replays", 2, 1, nil), obs("legacy-scores", 1, 1, nil), obs("by-hand", 1, 1, nil), obs("__consumer_offsets", 50, 3, nil))
	p := reconcile.Diff(plans.DesiredOf(&want), have, reconcile.DiffOptions{Cluster: "embedded", AllowDelete: true})
	p.Advisories = []plans.Advisory{{Subject: "certificate kafka-broker-1", Status: "renew",
		Reason: "expires within renewBefore (30d) (expires 2026-12-01, 1 days left); run `avatar-sync certs generate` (apply does not issue certificates)"}}
	return p
}

// objectRef names a namespaced object of the avatar namespace.
func objectRef(apiVersion, kind, name string) plans.ObjectRef {
	return plans.ObjectRef{APIVersion: apiVersion, Kind: kind, Namespace: "avatar", Name: name}
}

func object(action plans.Action, ref plans.ObjectRef, reason string, payload plans.ObjectPayload) plans.Change {
	payload.Object = ref
	if payload.Broker == 0 {
		payload.Broker = -1
	}
	return plans.Change{Kind: plans.KindObject, Name: ref.String(), Action: action, Reason: reason, Object: &payload}
}

// objectsPlan is a target with kubernetes: (issue 11): object changes of every sort ahead of a
// topic change, in one plan. The Secret's payload carries a raw value on purpose: views mask a
// sensitive object's data whatever the adapter did.
func objectsPlan() plans.Plan {
	p := reconcile.Diff(plans.DesiredOf(&spec.Spec{Topics: []spec.Topic{topic("eeg-brainwave-data", 3, 3, nil)}}), live(nil), reconcile.DiffOptions{Cluster: "microk8s"})
	sts := func(n int32) plans.ObjectRef {
		return objectRef("apps/v1", "StatefulSet", fmt.Sprintf("kafka-broker-%d", n))
	}
	replace := object(plans.Replace, sts(3), "Kubernetes cannot change a StatefulSet's volumeClaimTemplates in place; applying needs --allow-replace (orphan-delete and recreate: pods and volumes survive, existing volumes keep their size)",
		plans.ObjectPayload{Broker: 3, Live: "33333333", Fields: []plans.ObjectField{{Path: "spec.volumeClaimTemplates[0].spec.resources.requests.storage", Before: "10Gi", After: "20Gi"}}})
	replace.Risk = plans.RiskHeavy
	objects := []plans.Change{
		object(plans.Create, plans.ObjectRef{APIVersion: "v1", Kind: "Namespace", Name: "avatar"}, "", plans.ObjectPayload{}),
		object(plans.Create, objectRef("v1", "Secret", "kafka-tls-password"), "", plans.ObjectPayload{Sensitive: true}),
		object(plans.Update, objectRef("v1", "Secret", "kafka-tls"), "", plans.ObjectPayload{Sensitive: true, Live: "11111111",
			Fields: []plans.ObjectField{{Path: "data.[kafka.keystore.jks]", Before: "c2VjcmV0", After: "bmV3LXNlY3JldA=="}}}),
		object(plans.Update, sts(1), "", plans.ObjectPayload{Broker: 1, Live: "aaaaaaaa",
			Fields: []plans.ObjectField{{Path: "spec.template.spec.containers[0].image", Before: "apache/kafka:3.8.1", After: "apache/kafka:3.9.0"}}}),
		object(plans.Update, sts(2), "", plans.ObjectPayload{Broker: 2, Live: "bbbbbbbb",
			Fields:    []plans.ObjectField{{Path: "spec.template.spec.containers[0].image", Before: "apache/kafka:3.8.1", After: "apache/kafka:3.9.0"}},
			Conflicts: []plans.ObjectConflict{{Field: `spec.template.spec.containers[name="kafka"].image`, Manager: "kubectl-set"}}}),
		replace,
		object(plans.Delete, objectRef("v1", "ConfigMap", "kafka-ui"), "left the render, and the spec says deletion: prune and --allow-delete was given", plans.ObjectPayload{Live: "cccccccc"}),
		object(plans.NoOp, objectRef("v1", "Service", "kafka-old"), "left the render; kept (deleting needs deletion: prune in the spec and --allow-delete)", plans.ObjectPayload{Live: "dddddddd"}),
	}
	p.Parts = append([]plans.Part{{Plane: plans.PlaneKubernetes, Fingerprint: "kube:0123456789abcdef", Changes: objects}}, p.Parts...)
	return p
}

// deferredPlan is a fresh cluster: the objects are planned, the brokers do not answer yet.
func deferredPlan() plans.Plan {
	return plans.Plan{Cluster: "microk8s",
		Desired: plans.DesiredOf(&spec.Spec{Topics: []spec.Topic{topic("eeg-brainwave-data", 3, 3, nil)}}),
		Parts: []plans.Part{{Plane: plans.PlaneKubernetes, Fingerprint: "kube:fedcba9876543210",
			Changes: []plans.Change{object(plans.Create, plans.ObjectRef{APIVersion: "v1", Kind: "Namespace", Name: "avatar"}, "", plans.ObjectPayload{})}},
			{Plane: plans.PlaneKafka, Deferral: &plans.Deferral{Reason: "the brokers do not answer yet"}}},
		Advisories: []plans.Advisory{{Subject: "topics", Status: "deferred",
			Reason: "the brokers do not answer yet (connection refused): the topics will be planned once the brokers answer; apply creates the brokers, waits for them and then plans the topics"}}}
}

// TestRenderObjects: the object plane reads as kubectl users expect: the exact field diff, Secret
// values never shown, the other field manager named, the replace and its reason, the opt-ins.
func TestRenderObjects(t *testing.T) {
	p := objectsPlan()
	var text, md bytes.Buffer
	if err := RenderText(&text, p, RenderOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := RenderMarkdown(&md, p); err != nil {
		t.Fatal(err)
	}
	for name, out := range map[string]string{"text": text.String(), "markdown": md.String()} {
		for _, want := range []string{
			"update StatefulSet avatar/kafka-broker-1",
			"spec.template.spec.containers[0].image: apache/kafka:3.8.1 → apache/kafka:3.9.0",
			"data.[kafka.keystore.jks]: (sensitive) → (sensitive)",
			`is owned by field manager "kubectl-set"`,
			"replace StatefulSet avatar/kafka-broker-3",
			"spec.volumeClaimTemplates[0].spec.resources.requests.storage: 10Gi → 20Gi",
			"orphan-delete and recreate",
			"1 to replace",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("%s plan lacks %q:\n%s", name, want, out)
			}
		}
		for _, secret := range []string{"c2VjcmV0", "bmV3LXNlY3JldA=="} {
			if strings.Contains(out, secret) {
				t.Errorf("%s plan prints a Secret value %q", name, secret)
			}
		}
	}
	for _, want := range []string{
		"  ~ update StatefulSet avatar/kafka-broker-1\n      spec.template.spec.containers[0].image: apache/kafka:3.8.1 → apache/kafka:3.9.0\n",
		"1 Kubernetes object(s) take fields another field manager owns: apply needs --force-conflicts.",
		"1 Kubernetes object(s) are deleted (orphaning pods and volumes) and recreated: apply needs --allow-replace.",
		"1 Kubernetes object(s) left the render and are deleted: apply needs --allow-delete.",
	} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text plan lacks %q:\n%s", want, text.String())
		}
	}
	if strings.Contains(text.String(), "topic(s) and their records will be deleted") {
		t.Errorf("an object deletion is announced as a topic deletion:\n%s", text.String())
	}
	if got := Detail(p.AllChanges()[3]); got != "spec.template.spec.containers[0].image: apache/kafka:3.8.1 → apache/kafka:3.9.0" {
		t.Errorf("Detail (watch's log line) = %q", got)
	}
}

func TestRenderGolden(t *testing.T) {
	empty := reconcile.Diff(plans.DesiredOf(&spec.Spec{}), live(nil), reconcile.DiffOptions{Cluster: "embedded"})
	renderers := map[string]func(*bytes.Buffer, plans.Plan) error{
		"text":       func(b *bytes.Buffer, p plans.Plan) error { return RenderText(b, p, RenderOptions{}) },
		"text-color": func(b *bytes.Buffer, p plans.Plan) error { return RenderText(b, p, RenderOptions{Color: true}) },
		"json":       func(b *bytes.Buffer, p plans.Plan) error { return RenderJSON(b, p) },
		"markdown":   func(b *bytes.Buffer, p plans.Plan) error { return RenderMarkdown(b, p) },
	}
	ext := map[string]string{"text": "txt", "text-color": "ansi", "json": "json", "markdown": "md"}
	for name, render := range renderers {
		for planName, p := range map[string]plans.Plan{"plan": samplePlan(), "empty": empty, "objects": objectsPlan(), "deferred": deferredPlan()} {
			t.Run(name+"/"+planName, func(t *testing.T) {
				var buf bytes.Buffer
				if err := render(&buf, p); err != nil {
					t.Fatal(err)
				}
				golden := filepath.Join("testdata", planName+"."+ext[name]+".golden")
				if *update {
					if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
						t.Fatal(err)
					}
				}
				want, err := os.ReadFile(golden)
				if err != nil {
					t.Fatalf("%v (run go test ./report -update)", err)
				}
				if d := cmp.Diff(string(want), buf.String()); d != "" {
					t.Errorf("%s differs (-golden +got); run with -update if intended:\n%s", golden, d)
				}
			})
		}
	}
}

func TestRenderTextSummaryLine(t *testing.T) {
	var buf bytes.Buffer
	if err := RenderText(&buf, samplePlan(), RenderOptions{}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{
		"Plan: 1 to create, 4 to update, 1 to adopt, 1 to delete. 1 unsupported",
		"retention.ms:",
		"7d → 6h (604800000 → 21600000)",
		"cluster id test-cluster",
		"[DATA LOSS]",
		"[HEAVY]",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("text plan lacks %q:\n%s", want, out)
		}
	}
}

// TestRenderTextOptInsGiven: apply shows the plan after the opt-ins were checked; the summary must
// not ask for a flag the user already passed.
func TestRenderTextOptInsGiven(t *testing.T) {
	var buf bytes.Buffer
	if err := RenderText(&buf, samplePlan(), RenderOptions{AllowDataLoss: true, AllowDelete: true}); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"2 change(s) can lose data: allowed by --allow-data-loss.", "1 topic(s) and their records will be deleted: allowed by --allow-delete."} {
		if !strings.Contains(out, want) {
			t.Errorf("text plan lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "apply needs") {
		t.Errorf("text plan asks for a flag already given:\n%s", out)
	}
}

func TestHumanUnits(t *testing.T) {
	tests := map[string]struct{ key, v, want string }{
		"hours":         {"retention.ms", "3600000", "1h"},
		"days":          {"retention.ms", "604800000", "7d"},
		"mixed":         {"segment.ms", "5400000", "1h30m"},
		"forever":       {"retention.ms", "-1", "forever"},
		"gib":           {"retention.bytes", "1073741824", "1GiB"},
		"decimal":       {"max.message.bytes", "1000000", "1MB"},
		"no exact unit": {"max.message.bytes", "1048588", "1048588"},
		"unlimited":     {"retention.bytes", "-1", "unlimited"},
		"not a unit":    {"min.insync.replicas", "2", "2"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, _ := humanUnit(tc.key, tc.v)
			if got != tc.want {
				t.Errorf("humanUnit(%s, %s) = %q, want %q", tc.key, tc.v, got, tc.want)
			}
		})
	}
}

// TestRenderResultJSONStatuses: apply -o json says per change what is true after a time-out:
// applied, failed, unknown, not attempted (issue 10).
func TestRenderResultJSONStatuses(t *testing.T) {
	p := samplePlan()
	var res plans.Result
	statuses := []plans.Status{plans.Applied, plans.Failed, plans.Unknown, plans.NotAttempted}
	for i, c := range p.AllChanges() {
		if c.Pending() {
			res.Changes = append(res.Changes, plans.ChangeResult{Change: c, Status: statuses[i%len(statuses)]})
		}
	}
	var buf bytes.Buffer
	if err := RenderResultJSON(&buf, p, res, nil); err != nil {
		t.Fatal(err)
	}
	var run struct {
		Targets []struct {
			Applied, Failed, Unknown, NotAttempted int
			Changes                                []struct{ Status string }
		}
	}
	if err := json.Unmarshal(buf.Bytes(), &run); err != nil || len(run.Targets) != 1 {
		t.Fatalf("%v:\n%s", err, buf.String())
	}
	doc := run.Targets[0]
	seen := map[string]int{}
	for _, c := range doc.Changes {
		seen[c.Status]++
	}
	if doc.Applied != seen["applied"] || doc.Failed != seen["failed"] || doc.Unknown != seen["unknown"] || doc.NotAttempted != seen["not-attempted"] || seen["unknown"] == 0 {
		t.Errorf("counts %+v do not match statuses %v", doc, seen)
	}
}

// TestRenderCountsAdoptions: adopting existing topics into the inventory changes nothing on the
// cluster, so every view counts them as adopt, not update (issue 21).
func TestRenderCountsAdoptions(t *testing.T) {
	want := spec.Spec{Topics: []spec.Topic{topic("eeg-brainwave-data", 3, 3, nil), topic("prediction-results", 3, 3, nil), topic("drone-commands", 3, 3, nil)}}
	have := live(nil, obs("eeg-brainwave-data", 3, 3, nil), obs("prediction-results", 3, 3, nil), obs("drone-commands", 3, 3, nil))
	p := reconcile.Diff(plans.DesiredOf(&want), have, reconcile.DiffOptions{Cluster: "lab"})
	const line = "Plan: 0 to create, 0 to update, 3 to adopt, 0 to delete."
	var text, md, js bytes.Buffer
	if err := RenderText(&text, p, RenderOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := RenderMarkdown(&md, p); err != nil {
		t.Fatal(err)
	}
	if err := RenderJSON(&js, p); err != nil {
		t.Fatal(err)
	}
	for view, out := range map[string]string{"text": text.String(), "markdown": md.String()} {
		if !strings.Contains(out, line) {
			t.Errorf("%s plan lacks %q:\n%s", view, line, out)
		}
	}
	var doc struct{ Summary map[string]int }
	if err := json.Unmarshal(js.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Summary["adopt"] != 3 || doc.Summary["update"] != 0 {
		t.Errorf("JSON summary %v; want adopt 3, update 0", doc.Summary)
	}
}

// TestRenderDeferredHeaderSaysWhy: a plan made while the brokers did not answer has no cluster id;
// its header says that, not "id (unknown)" (issue 21).
func TestRenderDeferredHeaderSaysWhy(t *testing.T) {
	var text, md bytes.Buffer
	if err := RenderText(&text, deferredPlan(), RenderOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := RenderMarkdown(&md, deferredPlan()); err != nil {
		t.Fatal(err)
	}
	for view, out := range map[string]string{"text": text.String(), "markdown": md.String()} {
		header, _, _ := strings.Cut(out, "\n")
		if !strings.Contains(header, "cluster id not read: the brokers did not answer when this plan was made") || strings.Contains(out, "(unknown)") {
			t.Errorf("%s header %q (or the plan) does not say the brokers did not answer:\n%s", view, header, out)
		}
	}
}
