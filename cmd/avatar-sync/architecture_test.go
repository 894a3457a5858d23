package main

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

// TestPackageBoundaries enforces the package graph of docs/architecture.md: third-party protocol and
// rendering libraries stay behind their adapter, and the pure packages stay pure. It asks `go list`
// for the real import graph, so a stray import fails `make test`, not a code review.
func TestPackageBoundaries(t *testing.T) {
	const module = "github.com/avatar-project/avatar-sync"
	out, err := exec.Command("go", "list", "-json", module+"/...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	type pkg struct {
		ImportPath string
		Imports    []string
	}
	imports := map[string][]string{}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatalf("decode go list output: %v", err)
		}
		imports[strings.TrimPrefix(strings.TrimPrefix(p.ImportPath, module), "/")] = p.Imports
	}

	// owner reports which project package may import a third-party path ("" = anyone, testsOnly =
	// no package, only tests).
	const testsOnly = "(tests only)"
	owner := func(imp string) string {
		switch {
		case strings.HasPrefix(imp, "github.com/IBM/sarama"), strings.HasPrefix(imp, "github.com/twmb/franz-go"):
			return "clusters"
		case strings.HasPrefix(imp, "sigs.k8s.io/kustomize"):
			return "render"
		case strings.HasPrefix(imp, "github.com/fsnotify/fsnotify"):
			return "filewatch"
		case strings.HasPrefix(imp, "github.com/go-git/"):
			return "gitsource"
		case strings.HasPrefix(imp, "github.com/google/go-containerregistry"):
			return "internal/imagebuild"
		case strings.HasPrefix(imp, "sigs.k8s.io/controller-runtime"), strings.HasPrefix(imp, "github.com/fluxcd/pkg/"),
			strings.HasPrefix(imp, "github.com/fluxcd/cli-utils/pkg/kstatus/polling"), strings.HasPrefix(imp, "k8s.io/kubectl"):
			// Their package init cost every command ~10 ms before main (issue 23): tests only.
			return testsOnly
		case strings.HasPrefix(imp, "k8s.io/client-go"), strings.HasPrefix(imp, "github.com/fluxcd/cli-utils/pkg/kstatus/status"),
			strings.HasPrefix(imp, "k8s.io/apimachinery"):
			return "kube"
		}
		return ""
	}
	// allowedProject lists the project packages each package may import (nil entry = unrestricted).
	allowedProject := map[string][]string{
		"spec":       {},
		"topics":     {"spec"},
		"certs":      {"spec"},
		"render":     {"spec"},
		"plans":      {"spec", "topics"}, // the plan as pure data: what a plan is, its kind table, its file (issue 20)
		"reconcile":  {"spec", "topics", "plans"},
		"report":     {"spec", "topics", "reconcile", "plans", "health", "internal/printable"},
		"health":     {"spec"},
		"statuspage": {"health"},
		"filewatch":  {"reconcile"},
		"kube":       {"spec", "reconcile", "plans"},
		// The engine's pipeline below cmd (issue 20) composes the planes; it prints nothing.
		"session": {"spec", "topics", "reconcile", "plans", "clusters", "kube", "render", "certs", "health", "plugins"},
		// The watch daemon (issue 20): the loop, passes over targets through session, git tracking,
		// notify, metrics and the status page. It renders no plan view but the change detail.
		"daemon": {"spec", "reconcile", "plans", "session", "report", "health", "certs", "statuspage", "filewatch", "gitsource", "notify"},
		// watch's GitOps adapters (issue 12) stand alone: cmd hands them plain values. gitsource
		// implements the loop's reconcile.Source, as filewatch does (issue 20).
		"gitsource": {"reconcile"},
		"notify":    {},
	}
	for p, imps := range imports {
		top := strings.SplitN(p, "/", 2)[0]
		for _, imp := range imps {
			if o := owner(imp); o != "" && top != o && p != o && !strings.HasPrefix(p, o+"/") {
				if o == testsOnly {
					t.Errorf("%s imports %s: only tests may (its package init slows every command, issue 23)", p, imp)
				} else {
					t.Errorf("%s imports %s: only %s/ may", p, imp, o)
				}
			}
			if !strings.HasPrefix(imp, module+"/") {
				continue
			}
			rel := strings.TrimPrefix(imp, module+"/")
			if strings.HasPrefix(rel, "cmd/") {
				t.Errorf("%s imports %s: nothing imports cmd", p, rel)
			}
			allowed, restricted := allowedProject[top]
			if !restricted {
				continue
			}
			ok := strings.HasPrefix(rel, top+"/") // a package's own subpackages
			for _, a := range allowed {
				ok = ok || rel == a || strings.HasPrefix(rel, a+"/")
			}
			if !ok {
				t.Errorf("%s imports %s: %s may import only %v from this project", p, rel, top, allowed)
			}
		}
	}
}

// TestNoHeavyKubernetesInit keeps the command's start-up cheap (issue 23): every avatar-sync command
// runs the package init of everything linked in, Kubernetes or not. controller-runtime's client,
// fluxcd/pkg/ssa and kstatus's poller (through kubectl's scheme) cost ~10 ms of it; the
// Kubernetes plane uses client-go's dynamic client instead, and none of them may come back. Nor may
// client-go's typed scheme (k8s.io/client-go/kubernetes/scheme: every typed API group registered,
// ~4-10 ms), which client-go's discovery client and restmapper import: kube/ reads discovery with
// its own mapper (kube/mapper.go).
func TestNoHeavyKubernetesInit(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "github.com/avatar-project/avatar-sync/cmd/avatar-sync").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	heavy := []string{"k8s.io/kubectl/", "sigs.k8s.io/controller-runtime/", "github.com/fluxcd/pkg/", "github.com/fluxcd/cli-utils/pkg/kstatus/polling",
		"k8s.io/client-go/kubernetes/scheme", "k8s.io/client-go/discovery", "k8s.io/client-go/restmapper"}
	deps := strings.Fields(string(out))
	if len(deps) < 100 {
		t.Fatalf("go list -deps printed %d packages, want the command's whole dependency graph", len(deps))
	}
	for _, d := range deps {
		for _, h := range heavy {
			if strings.HasPrefix(d, h) {
				t.Errorf("avatar-sync links %s: its package init slows every command's start (docs/benchmarks.md, Process start); use client-go in kube/ instead", d)
			}
		}
	}
}
