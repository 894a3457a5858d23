package main

import (
	"fmt"
	"io"

	"github.com/avatar-project/avatar-sync/certs"
	"github.com/avatar-project/avatar-sync/reconcile"
	"github.com/avatar-project/avatar-sync/spec"
)

// addCertChanges appends the spec's TLS material that needs work (missing, expiring within
// renewBefore, expired, SANs no longer matching the spec) to p as changes of kind Cert, so a
// reviewer sees them in the same plan (issue 5). Before anything was generated at all (no CA yet)
// it adds no changes, only a note on notes: a fresh clone, or CI, has no certificates by design,
// and that must not make every plan report pending changes. apply does not make Cert changes;
// `avatar-sync certs generate` does (it issues exactly what the plan lists).
func addCertChanges(p *reconcile.Plan, sp *spec.Spec, notes io.Writer) error {
	if !sp.TLS.Enabled {
		return nil
	}
	src, err := certs.Load(sp)
	if err != nil {
		return fmt.Errorf("read TLS material: %w", err)
	}
	sts, err := certs.Status(sp, src, certsClock())
	if err != nil {
		return fmt.Errorf("check TLS material: %w", err)
	}
	for _, st := range sts {
		if st.Role == certs.RoleCA && st.Name == "ca" && st.Status == certs.StateMissing {
			fmt.Fprintf(notes, "note: no TLS material in %s yet; run `avatar-sync certs generate` before serving SSL\n", certs.SettingsOf(sp).Dir)
			return nil
		}
	}
	for _, st := range sts {
		c := reconcile.Change{Kind: reconcile.KindCert, Name: st.Name, Reason: st.Reason}
		switch st.Status {
		case certs.StateOK:
			continue
		case certs.StateMissing:
			c.Action = reconcile.Create
			c.After = map[string]string{"file": st.File, "status": string(certs.StateOK)}
		default:
			c.Action = reconcile.Update
			c.Before = map[string]string{"status": string(st.Status)}
			c.After = map[string]string{"status": string(certs.StateOK)}
		}
		if c.Reason == "" {
			c.Reason = fmt.Sprintf("%s %s", st.File, st.Status)
		}
		if !st.NotAfter.IsZero() {
			c.Reason += fmt.Sprintf(" (expires %s, %d days left)", st.NotAfter.UTC().Format("2006-01-02"), st.DaysLeft)
		}
		c.Reason += "; run `avatar-sync certs generate` (apply does not issue certificates)"
		p.Changes = append(p.Changes, c)
	}
	return nil
}

// certNotes lists the Cert changes a plan would show, for commands that do not print a plan of
// them (apply, watch): apply never issues certificates, but must not hide that some are due.
func certNotes(sp *spec.Spec, notes io.Writer) ([]string, error) {
	var p reconcile.Plan
	if err := addCertChanges(&p, sp, notes); err != nil {
		return nil, err
	}
	lines := make([]string, len(p.Changes))
	for i, c := range p.Changes {
		lines[i] = reconcile.Headline(c) + ": " + c.Reason
	}
	return lines, nil
}
