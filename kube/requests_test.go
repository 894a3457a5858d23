//go:build kubeapiserver

package kube

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/avatar-project/avatar-sync/internal/kubetest"
	"github.com/avatar-project/avatar-sync/render"
)

// Issue 23, on an API server of its own with an audit log: a plan of the three-broker render with
// two Secrets reads each kind once (one LIST per kind with two objects or more, one GET per other
// object), reads each Secret by name and never lists Secrets (avatar-sync reads no Secret it does
// not hold), and makes no dry run when everything is in sync.
func TestPlanInSyncReadsEachKindOnceAndNoSecretItDoesNotHold(t *testing.T) {
	srv := kubetest.Start(t, kubetest.Options{Audit: true})
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c, err := Connect(ctx, Target{Name: "lab", Kubeconfig: srv.Kubeconfig, Context: kubetest.ContextName})
	if err != nil {
		t.Fatal(err)
	}
	ns := kubetest.Namespace(t)
	want := rendered{password: "audit-pw"}.desired(t, ns)
	want.Objects = append(want.Objects, PasswordSecret(ns, render.SASLAdminSecret, render.SASLAdminSecretKey, "admin-pw", nil))
	mustApply(t, c, mustPlan(t, c, want, planOpts{}), applyOpts{NoWait: true})

	mark := srv.AuditMark(t)
	if p := mustPlan(t, c, want, planOpts{}); p.Pending() {
		t.Fatalf("plan after apply = %v, want nothing to do", changesOf(p))
	}
	var got []string
	for _, r := range srv.Requests(t, mark, UserAgent) {
		got = append(got, r.Verb+" "+r.Resource)
	}
	// Namespace and PodDisruptionBudget: one each; ConfigMaps (3 and the inventory), Services (7)
	// and StatefulSets (3): a LIST each; the two Secrets by name.
	want2 := "get namespaces,get poddisruptionbudgets,get secrets,get secrets,list configmaps,list services,list statefulsets"
	if strings.Join(slices.Sorted(slices.Values(got)), ",") != want2 {
		t.Errorf("a plan in sync made %d requests %v, want %s", len(got), got, want2)
	}
}
