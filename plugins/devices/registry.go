// Package devices holds avatar-sync's built-in device probes — tello, openbci-wifi,
// openbci-serial, tcp, udp, http — and the Registry that picks a probe by a device's kind, falling
// back to an external avatar-sync-plugin-<kind> executable (package plugins/external). Every probe
// reports a finding (OK=false with a one-line reason) when the device answers badly or not at all,
// and an error only when it could not probe (issue 6).
package devices

import (
	"fmt"
	"slices"
	"strings"

	"github.com/avatar-project/avatar-sync/plugins/external"
	"github.com/avatar-project/avatar-sync/reconcile"
	"github.com/avatar-project/avatar-sync/spec"
)

// Registry chooses a device's Checker: an explicit plugin: path first, then the built-in probe
// for its kind, then an external plugin found on PATH.
type Registry struct {
	builtins map[string]reconcile.Checker
	// LookPath finds external plugins; nil means exec.LookPath ($PATH). Tests point it elsewhere.
	LookPath func(file string) (string, error)
	// NoExternalRun never starts an external plugin: validation reports only a missing plugin,
	// a probe is refused (`validate` and `plan` without --plugins, issue 10 item 7).
	NoExternalRun bool
	// validations lets every external plugin this registry hands out share validate answers, so
	// a command that validates a device before probing it (check, --preflight) runs the
	// plugin's validate once.
	validations *external.ValidationCache
}

var _ reconcile.Registry = (*Registry)(nil)

// NewRegistry returns a registry holding every built-in probe.
func NewRegistry() *Registry {
	r := &Registry{builtins: map[string]reconcile.Checker{}, validations: external.NewValidationCache()}
	for _, c := range []reconcile.Checker{
		Tello{}, OpenBCIWiFi{}, OpenBCISerial{}, TCP{}, UDP{}, HTTP{},
	} {
		r.builtins[c.Name()] = c
	}
	return r
}

// Kinds lists the built-in kinds, sorted.
func (r *Registry) Kinds() []string {
	out := make([]string, 0, len(r.builtins))
	for k := range r.builtins {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// Checker returns the plugin for d. A kind that is neither built in nor installed is still served
// by an external plugin marked missing (validation warns, check reports an error), unless it looks
// like a typo of a built-in kind: then the error suggests the right spelling.
func (r *Registry) Checker(d spec.Device) (reconcile.Checker, error) {
	if d.Plugin != "" {
		return r.external(d), nil
	}
	if d.Kind == "" {
		return nil, fmt.Errorf("no kind: set kind: to one of %s, or to the name of an external plugin (avatar-sync-plugin-<kind> on PATH)",
			strings.Join(r.Kinds(), ", "))
	}
	if c, ok := r.builtins[d.Kind]; ok {
		return c, nil
	}
	p := r.external(d)
	if p.Missing != nil {
		if sug := suggest(d.Kind, r.Kinds()); sug != "" {
			return nil, fmt.Errorf("unknown kind %q (did you mean %q?); built-in kinds: %s", d.Kind, sug, strings.Join(r.Kinds(), ", "))
		}
	}
	return p, nil
}

// external finds d's external plugin and lets it share the registry's validate answers.
func (r *Registry) external(d spec.Device) *external.Plugin {
	p := external.Find(d, r.LookPath)
	p.Validations = r.validations
	p.NoRun = r.NoExternalRun
	return p
}
