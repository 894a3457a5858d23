package devices

import (
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
