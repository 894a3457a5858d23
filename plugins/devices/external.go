package devices

import (
	"cmp"
	"context"
	"slices"

	"github.com/avatar-project/avatar-sync/plugins/external"
	"github.com/avatar-project/avatar-sync/reconcile"
	"github.com/avatar-project/avatar-sync/spec"
)

// ExternalDevices names the devices an installed external plugin serves in reg: those whose checks
// a registry with NoExternalRun left undone.
func ExternalDevices(devs []spec.Device, reg reconcile.Registry) []string {
	var names []string
	for _, d := range devs {
		if c, err := reg.Checker(d); err == nil {
			if p, ok := c.(*external.Plugin); ok && p.Missing == nil {
				names = append(names, d.Name)
			}
		}
	}
	return names
}

// ValidateSpec adds the devices' own checks to diags, the loader's diagnostics for sp, and sorts
// them by position, so one run reports every problem. Kind-specific keys are the plugins' to judge
// (minBattery, expectStatus, ...); in a spec with errors only the devices whose common keys the
// loader accepted are judged (spec.DecodedDevices). Without runExternal no external plugin runs
// (validate and plan judge untrusted specs, issue 10), and notRun names the devices they serve.
func ValidateSpec(ctx context.Context, sp *spec.Spec, diags spec.Diagnostics, runExternal bool) (_ spec.Diagnostics, notRun []string) {
	devs := sp.Devices
	if len(diags.Errors()) > 0 {
		devs = spec.DecodedDevices(devs, diags)
	}
	reg := NewRegistry()
	reg.NoExternalRun = !runExternal
	diags = append(diags, reconcile.ValidateDevices(ctx, devs, reg)...)
	if !runExternal {
		notRun = ExternalDevices(devs, reg)
	}
	slices.SortStableFunc(diags, func(a, b spec.Diagnostic) int {
		return cmp.Or(a.Pos.Line-b.Pos.Line, a.Pos.Col-b.Pos.Col)
	})
	return diags, notRun
}
