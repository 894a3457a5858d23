//go:build kubeapiserver

package kube

import "testing"

// BenchmarkPlanInSync measures a plan of the three-broker render (16 objects and the password
// Secret) against the real API server when nothing changed: what every `watch` cycle pays.
// Run: go test -tags kubeapiserver -run '^$' -bench PlanInSync ./kube/
func BenchmarkPlanInSync(b *testing.B) {
	c, ns := connectLab(b)
	want := rendered{password: "bench-password"}.desired(b, ns)
	mustApply(b, c, mustPlan(b, c, want, planOpts{}), applyOpts{NoWait: true})
	for b.Loop() {
		if p := mustPlan(b, c, want, planOpts{}); p.Pending() {
			b.Fatalf("plan not empty: %v", changesOf(p))
		}
	}
}
