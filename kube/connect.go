// Package kube is the Kubernetes plane (issue 11): it diffs the objects `render --build` produces
// against a live API server and applies them. It is the only package that imports client-go,
// apimachinery and kstatus's status computation. It talks to the API server through client-go's
// dynamic client alone: controller-runtime, fluxcd/pkg/ssa and kstatus's poller cost every command
// ~10 ms of package init (kubectl's scheme among them) for four calls (issue 23).
//
// Deciding is separate from doing: Plan computes typed per-object changes by server-side apply dry
// runs and never writes; Apply executes a Plan in stages (namespace, secrets and config, services,
// workloads), rolls broker StatefulSets one at a time and prunes only what its inventory recorded.
package kube

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// FieldManager is the server-side apply field manager of everything avatar-sync applies.
const FieldManager = "avatar-sync"

// ownerGroup prefixes the owner labels put on every applied object (<group>/name and
// <group>/namespace, the labels fluxcd/pkg/ssa put there before issue 23, so objects applied by
// earlier versions stay ours): with the inventory they are how avatar-sync knows an object is its own.
const ownerGroup = "avatar-sync.io"

// UserAgent is the user agent of every request avatar-sync sends to an API server, so an audit log
// tells its requests apart (the request-count test counts them so, issue 23).
const UserAgent = "avatar-sync/kubernetes-plane"

// Target says which cluster to talk to, as kubectl would.
type Target struct {
	// Name is the spec's target (clusters[].name); every error names it.
	Name string
	// Kubeconfig is an explicit kubeconfig path; empty means kubectl's rules ($KUBECONFIG, else
	// ~/.kube/config), and inside a pod with neither, the pod's service account (in-cluster).
	Kubeconfig string
	// Context is the kubeconfig context (the target's kubernetes.context); empty means the file's
	// current-context.
	Context string
}

// Client is a connection to one API server.
type Client struct {
	target string
	host   string
	// cfg is the connection's configuration (user agent, time-out, rate limits).
	cfg    *rest.Config
	dyn    dynamic.Interface
	mapper *mapper
	// watcher watches workloads while an apply rolls them: the same credentials without the
	// client's request time-out, which would cut a watch short (waits are bounded by their context).
	watcher dynamic.Interface

	// mu guards the request savers below (issue 23).
	mu sync.Mutex
	// listForbidden are the kinds (group/kind) this user may not list in the target namespace (the
	// watch daemon's Role grants get by name): read one GET per object.
	listForbidden map[string]bool
	// dryRuns are the last server answer per object (refKey), for a plan that asks again about
	// the same live version and the same desired object (apply re-plans what plan planned).
	dryRuns map[string]dryRunAnswer
}

// connectTimeout bounds the probe Connect makes, so a server that does not answer fails fast.
const connectTimeout = 15 * time.Second

// Connect loads the kubeconfig, picks the context and checks that the API server answers and
// accepts the credentials. Each failure is one line naming the target and what to do.
func Connect(ctx context.Context, t Target) (*Client, error) {
	cfg, err := restConfig(t)
	if err != nil {
		return nil, err
	}
	return connect(ctx, t.Name, cfg)
}

func connect(ctx context.Context, target string, cfg *rest.Config) (*Client, error) {
	cfg = rest.CopyConfig(cfg)
	cfg.Timeout = connectTimeout
	cfg.UserAgent = UserAgent
	// A fresh deploy's plan dry-runs every object; client-go's default of 5 per second would make
	// a 16-object plan take seconds of client-side throttling.
	if cfg.QPS == 0 {
		cfg.QPS, cfg.Burst = 50, 100
	}
	httpClient, err := rest.HTTPClientFor(cfg)
	if err != nil {
		return nil, fmt.Errorf("target %s: Kubernetes client for %s: %w", target, cfg.Host, err)
	}
	// One discovery serves the probe and the REST mapper (two requests with aggregated discovery),
	// read by kube's own mapper: client-go's discovery client and restmapper would link
	// k8s.io/client-go/kubernetes/scheme into every command (issue 23).
	mapper, err := newMapper(cfg, httpClient)
	if err != nil {
		return nil, fmt.Errorf("target %s: Kubernetes client for %s: %s", target, cfg.Host, oneLine(err))
	}
	if err := probe(ctx, target, cfg.Host, mapper); err != nil {
		return nil, err
	}
	dyn, err := dynamic.NewForConfigAndClient(cfg, httpClient)
	if err != nil {
		return nil, fmt.Errorf("target %s: Kubernetes client for %s: %w", target, cfg.Host, err)
	}
	wcfg := rest.CopyConfig(cfg)
	wcfg.Timeout = 0
	whttp, err := rest.HTTPClientFor(wcfg)
	if err != nil {
		return nil, fmt.Errorf("target %s: Kubernetes client for %s: %w", target, cfg.Host, err)
	}
	watcher, err := dynamic.NewForConfigAndClient(wcfg, whttp)
	if err != nil {
		return nil, fmt.Errorf("target %s: Kubernetes client for %s: %w", target, cfg.Host, err)
	}
	return &Client{target: target, host: cfg.Host, cfg: cfg, dyn: dyn, mapper: mapper, watcher: watcher,
		listForbidden: map[string]bool{}, dryRuns: map[string]dryRunAnswer{}}, nil
}

// serviceAccountDir is where Kubernetes mounts a pod's service account token and CA (tests point
// it elsewhere).
var serviceAccountDir = defaultServiceAccountDir

// restConfig resolves the kubeconfig and context the way kubectl does. With no kubeconfig file at
// all (no explicit path, $KUBECONFIG unset or naming no existing file, no ~/.kube/config) inside a
// pod, it uses the pod's service account as client-go's in-cluster configuration does: the
// rendered watch Deployment runs the Kubernetes plane that way (issue 21).
func restConfig(t Target) (*rest.Config, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if t.Kubeconfig != "" {
		rules.ExplicitPath = t.Kubeconfig
	}
	where := kubeconfigName(rules)
	if !anyFileExists(rules) {
		if os.Getenv("KUBERNETES_SERVICE_HOST") != "" && os.Getenv("KUBERNETES_SERVICE_PORT") != "" && t.Kubeconfig == "" {
			return inClusterConfig(t.Name)
		}
		return nil, fmt.Errorf("target %s: kubeconfig %s does not exist; write one (`microk8s config > ~/.kube/config`), point KUBECONFIG at one, or run inside a pod with a service account", t.Name, where)
	}
	raw, err := rules.Load()
	if err != nil {
		return nil, fmt.Errorf("target %s: kubeconfig %s cannot be read: %s; fix the file, or point KUBECONFIG at one (`microk8s config > ~/.kube/microk8s`)", t.Name, where, oneLine(err))
	}
	if len(raw.Contexts) == 0 {
		return nil, fmt.Errorf("target %s: kubeconfig %s has no contexts; point KUBECONFIG at a cluster's config (`microk8s config > ~/.kube/microk8s`)", t.Name, where)
	}
	if t.Context != "" {
		if _, ok := raw.Contexts[t.Context]; !ok {
			return nil, fmt.Errorf("target %s: context %q is not in kubeconfig %s (it has: %s); fix clusters.%s.kubernetes.context", t.Name, t.Context, where, strings.Join(contextNames(raw), ", "), t.Name)
		}
	} else if raw.CurrentContext == "" {
		return nil, fmt.Errorf("target %s: kubeconfig %s has no current-context; set clusters.%s.kubernetes.context to one of: %s", t.Name, where, t.Name, strings.Join(contextNames(raw), ", "))
	}
	cfg, err := clientcmd.NewNonInteractiveClientConfig(*raw, t.Context, &clientcmd.ConfigOverrides{}, rules).ClientConfig()
	if err != nil {
		return nil, fmt.Errorf("target %s: kubeconfig %s, context %q: %s", t.Name, where, firstNonEmpty(t.Context, raw.CurrentContext), oneLine(err))
	}
	return cfg, nil
}

// anyFileExists reports whether a kubeconfig file the rules would read exists (client-go skips
// missing files on $KUBECONFIG silently, and a missing ~/.kube/config reads as an empty config).
func anyFileExists(rules *clientcmd.ClientConfigLoadingRules) bool {
	paths := rules.Precedence
	if rules.ExplicitPath != "" {
		paths = []string{rules.ExplicitPath}
	}
	for _, p := range paths {
		if _, err := os.Stat(p); err == nil {
			return true
		}
	}
	return false
}

// inClusterConfig is client-go's rest.InClusterConfig, reading the token and CA from
// serviceAccountDir: the API server at $KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT, the
// token file re-read as the kubelet rotates it.
func inClusterConfig(target string) (*rest.Config, error) {
	if serviceAccountDir == defaultServiceAccountDir {
		cfg, err := rest.InClusterConfig()
		if err != nil {
			return nil, fmt.Errorf("target %s: no kubeconfig, and the pod's service account cannot be used: %s", target, oneLine(err))
		}
		return cfg, nil
	}
	token := filepath.Join(serviceAccountDir, "token")
	if _, err := os.Stat(token); err != nil {
		return nil, fmt.Errorf("target %s: no kubeconfig, and the pod's service account cannot be used: %s", target, oneLine(err))
	}
	host := net.JoinHostPort(os.Getenv("KUBERNETES_SERVICE_HOST"), os.Getenv("KUBERNETES_SERVICE_PORT"))
	return &rest.Config{
		Host:            "https://" + host,
		BearerTokenFile: token,
		TLSClientConfig: rest.TLSClientConfig{CAFile: filepath.Join(serviceAccountDir, "ca.crt")},
	}, nil
}

const defaultServiceAccountDir = "/var/run/secrets/kubernetes.io/serviceaccount"

func kubeconfigName(rules *clientcmd.ClientConfigLoadingRules) string {
	if rules.ExplicitPath != "" {
		return rules.ExplicitPath
	}
	if v := os.Getenv(clientcmd.RecommendedConfigPathEnvVar); v != "" {
		return "$KUBECONFIG (" + v + ")"
	}
	return clientcmd.RecommendedHomeFile
}

func contextNames(c *clientcmdapi.Config) []string {
	var out []string
	for n := range c.Contexts {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// probe reads the core group's discovery document (the mapper keeps it): unauthenticated requests
// get 401 (a bad token) or 403 (none), an absent server a dial error, so each case can be told
// apart before any real work.
func probe(ctx context.Context, target, host string, m *mapper) error {
	var err error
	done := make(chan error, 1)
	go func() { done <- m.probe(ctx) }()
	select {
	case <-ctx.Done():
		return fmt.Errorf("target %s: Kubernetes API server %s: %w", target, host, ctx.Err())
	case err = <-done:
	}
	switch {
	case err == nil:
		return nil
	case apierrors.IsUnauthorized(err):
		return fmt.Errorf("target %s: Kubernetes API server %s refused the kubeconfig's credentials (401 Unauthorized); refresh them (`microk8s config > ~/.kube/microk8s`)", target, host)
	case apierrors.IsForbidden(err):
		return fmt.Errorf("target %s: Kubernetes API server %s does not let this user in (403 Forbidden); use a context with rights on the namespace", target, host)
	case isUnreachable(err):
		return fmt.Errorf("target %s: Kubernetes API server %s is unreachable (%s); is the cluster running (`microk8s status`)?", target, host, oneLine(err))
	default:
		return fmt.Errorf("target %s: Kubernetes API server %s: %s", target, host, oneLine(err))
	}
}

func isUnreachable(err error) bool {
	var netErr net.Error
	var urlErr *url.Error
	return errors.As(err, &netErr) || errors.As(err, &urlErr) || errors.Is(err, context.DeadlineExceeded)
}

// oneLine keeps an error on one line: the user sees one line per problem.
func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}
