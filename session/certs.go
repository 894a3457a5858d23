package session

import (
	"fmt"
	"time"

	"github.com/avatar-project/avatar-sync/certs"
	"github.com/avatar-project/avatar-sync/plans"
	"github.com/avatar-project/avatar-sync/spec"
)

// CertAdvisories is the reconcile.CertAdvisor of every target: the spec's TLS material that needs
// work (missing, expiring within renewBefore, expired, SANs no longer matching the spec), as
// advisories. apply does not issue certificates, so they are never changes (issue 9):
// `avatar-sync certs generate` issues exactly what they list. Before anything was generated at all
// (no CA yet) it is one advisory, not one per certificate: a fresh clone, or CI, has no
// certificates by design.
func CertAdvisories(sp *spec.Spec, now time.Time) ([]plans.Advisory, error) {
	if !sp.TLS.Enabled {
		return nil, nil
	}
	src, err := certs.Load(sp)
	if err != nil {
		return nil, fmt.Errorf("read TLS material: %w", err)
	}
	sts, err := certs.Status(sp, src, now)
	if err != nil {
		return nil, err
	}
	for _, st := range sts {
		if st.Role == certs.RoleCA && st.Name == "ca" && st.Status == certs.StateMissing {
			return []plans.Advisory{{Subject: "tls", Status: string(certs.StateMissing),
				Reason: fmt.Sprintf("no TLS material in %s yet; run `avatar-sync certs generate` before serving SSL", certs.SettingsOf(sp).Dir)}}, nil
		}
	}
	var out []plans.Advisory
	for _, st := range sts {
		if st.Status == certs.StateOK {
			continue
		}
		reason := st.Reason
		if reason == "" {
			reason = fmt.Sprintf("%s %s", st.File, st.Status)
		}
		if !st.NotAfter.IsZero() {
			reason += fmt.Sprintf(" (expires %s, %d days left)", st.NotAfter.UTC().Format("2006-01-02"), st.DaysLeft)
		}
		reason += "; run `avatar-sync certs generate` (apply does not issue certificates)"
		out = append(out, plans.Advisory{Subject: "certificate " + st.Name, Status: string(st.Status), Reason: reason})
	}
	return out, nil
}
