package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/avatar-project/avatar-sync/clusters"
	"github.com/avatar-project/avatar-sync/clusters/clustertest"
)

// TestUnpinnedTargetGetsItsClusterIDLine: plan and apply against a bootstrap: target without
// clusterId name the exact line that pins it to the cluster they read (issue 21: a restarted
// `dev up` on the same ports is another, empty cluster, planned against silently). Once the line
// is in the spec, the note is gone and the pin holds.
func TestUnpinnedTargetGetsItsClusterIDLine(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	e, err := clustertest.Start(ctx, nil, clusters.EmbeddedOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	f := filepath.Join(t.TempDir(), "avatar.yaml")
	target := "  lab: { bootstrap: [" + strings.Join(e.Bootstrap(), ", ") + "] }\n"
	body := "apiVersion: avatar-sync/v1\nkind: KafkaCluster\nmetadata: { name: avatar }\n" +
		"brokers: [{ id: 1, host: kafka-1, ports: { plaintext: 9092 } }]\n" +
		"topics: [{ name: eeg-brainwave-data, partitions: 1, replicationFactor: 1 }]\n" +
		"clusters:\n" + target
	if err := os.WriteFile(f, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := runCLI(t, "apply", "--auto-approve", "-f", f, "--cluster", "lab")
	if code != exitOK {
		t.Fatalf("apply: exit %d\n%s\n%s", code, out, errOut)
	}
	_, id, _ := strings.Cut(out, "Cluster ")
	id, _, _ = strings.Cut(id, " converged")
	line := "\n    clusterId: " + id + "\n"
	if id == "" || !strings.Contains(errOut, `note: target "lab" is not pinned`) || !strings.Contains(errOut, "add this line to clusters.lab in "+f+":"+line) {
		t.Fatalf("apply does not name the clusterId line of cluster %q:\n%s", id, errOut)
	}
	if code, _, errOut := runCLI(t, "plan", "-f", f, "--cluster", "lab", "-o", "json"); code != exitOK || !strings.Contains(errOut, line) {
		t.Errorf("plan: exit %d, stderr lacks %q:\n%s", code, line, errOut)
	}
	editSpec(t, f, target, "  lab: { bootstrap: ["+strings.Join(e.Bootstrap(), ", ")+"], clusterId: "+id+" }\n")
	if code, _, errOut := runCLI(t, "plan", "--detailed-exitcode", "-f", f, "--cluster", "lab"); code != exitOK || strings.Contains(errOut, "not pinned") {
		t.Errorf("pinned as advised: plan exit %d (want 0, in sync), stderr:\n%s", code, errOut)
	}
}
