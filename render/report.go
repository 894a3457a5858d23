package render

import (
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"strings"

	"github.com/avatar-project/avatar-sync/spec"
)

// The `render` command's report (issue 20: cmd keeps flags and chooses a view).

// resultJSON is render's `-o json` document.
type resultJSON struct {
	Result
	Check   bool `json:"check"`
	Changed bool `json:"changed"`
}

// RenderResultJSON writes render's `-o json` document; check says the run was --check.
func RenderResultJSON(w io.Writer, res Result, check bool) error {
	for _, l := range []*[]string{&res.Written, &res.Unchanged, &res.Removed} {
		if *l == nil {
			*l = []string{}
		}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(resultJSON{Result: res, Check: check, Changed: res.Changed()})
}

// ReportOptions are what RenderResultText needs besides the spec and the result. The caller looks
// at the disk (tls.dir), so the view itself is pure.
type ReportOptions struct {
	OutDir string
	Target string // TargetKustomize or TargetCompose
	Check  bool   // --check: nothing was written
	// Verbose also lists the unchanged files.
	Verbose bool
	// File is the spec's path, for the commands the report suggests.
	File string
	// TLSDir is tls.dir; NoCA says it holds no ca.crt yet.
	TLSDir string
	NoCA   bool
	// GeneratedPassword is the file `certs generate` wrote a keystore password into because
	// tls.passwordEnv was unset ("" when there is none).
	GeneratedPassword string
	Getenv            func(string) string
}

// RenderResultText writes what render wrote, removed (or, with Check, would) and the next steps
// to w; notes (stderr) gets what is missing before deploying.
func RenderResultText(w, notes io.Writer, sp *spec.Spec, res Result, o ReportOptions) error {
	verbWrite, verbRemove := "wrote  ", "removed"
	if o.Check {
		verbWrite, verbRemove = "would write ", "would remove"
	}
	for _, p := range res.Written {
		fmt.Fprintf(w, "  %s %s\n", verbWrite, filepath.Join(o.OutDir, filepath.FromSlash(p)))
	}
	for _, p := range res.Removed {
		fmt.Fprintf(w, "  %s %s\n", verbRemove, filepath.Join(o.OutDir, filepath.FromSlash(p)))
	}
	if o.Verbose {
		for _, p := range res.Unchanged {
			fmt.Fprintf(w, "  unchanged %s\n", filepath.Join(o.OutDir, filepath.FromSlash(p)))
		}
	}
	what := "kustomize tree"
	if o.Target == TargetCompose {
		what = "Docker Compose deployment"
	}
	switch {
	case o.Check && res.Changed():
		_, err := fmt.Fprintf(w, "%s in %s is stale: %d to write, %d to remove. Run `avatar-sync render --target %s -d %s`.\n",
			what, o.OutDir, len(res.Written), len(res.Removed), o.Target, o.OutDir)
		return err
	case o.Check:
		_, err := fmt.Fprintf(w, "%s in %s is up to date (%d files).\n", what, o.OutDir, len(res.Unchanged))
		return err
	}
	fmt.Fprintf(w, "Rendered %s into %s: %d written, %d removed, %d unchanged.\n",
		what, o.OutDir, len(res.Written), len(res.Removed), len(res.Unchanged))
	if sp.TLS.Enabled && o.NoCA {
		// The Secret (kustomize) and the mount (Compose) read tls.dir; without certificates the
		// next command below fails far from its cause.
		fmt.Fprintf(notes, "note: %s holds no certificates yet; run `avatar-sync certs generate -f %s` before deploying\n", o.TLSDir, o.File)
	}
	pw, generated := keystorePassword(sp, o.Getenv, o.GeneratedPassword)
	if o.Target == TargetCompose {
		start := fmt.Sprintf("docker compose -f %s up -d", filepath.Join(o.OutDir, ComposeFile))
		if generated && NeedsPasswordSecret(sp) {
			// The Compose file reads $passwordEnv, which is unset: hand it the generated password.
			start = fmt.Sprintf("%s=%s %s", sp.TLS.PasswordEnv, pw, start)
		}
		_, err := fmt.Fprintf(w, "Next: %s\n", start)
		return err
	}
	for _, c := range sp.Clusters {
		if c.Kubernetes == nil {
			continue
		}
		ns := c.Kubernetes.Namespace
		if ns == "" {
			ns = sp.Metadata.Namespace
		}
		nsFlag := ""
		if ns != "" {
			nsFlag = " -n " + ns
		}
		// Issue 21: `avatar-sync apply` makes the password Secrets itself (docs/kubernetes.md), so it
		// comes first; the kubectl commands are the alternative, not a step to add to it (a Secret
		// made by hand is not avatar-sync's, and its next apply reports it as a conflict).
		var secrets []string
		if NeedsPasswordSecret(sp) {
			secrets = append(secrets, PasswordSecret)
		}
		if NeedsSASLAdminSecret(sp) {
			secrets = append(secrets, SASLAdminSecret)
		}
		fmt.Fprintf(w, "Next (%s): avatar-sync apply -f %s --cluster %s\n", c.Name, o.File, c.Name)
		if len(secrets) > 0 {
			what := "the Secret "
			if len(secrets) > 1 {
				what = "the Secrets "
			}
			fmt.Fprintf(w, "  (it applies the overlay and makes %s%s from the spec's password references)\n", what, strings.Join(secrets, " and "))
		}
		fmt.Fprintf(w, "  or, deploying with kubectl instead: kubectl apply -k %s\n", filepath.Join(o.OutDir, "overlays", c.Name))
		if NeedsPasswordSecret(sp) {
			fmt.Fprintf(w, "  then, once per namespace: kubectl%s create secret generic %s --from-literal=%s=%s\n",
				nsFlag, PasswordSecret, PasswordSecretKey, pw)
		}
		if NeedsSASLAdminSecret(sp) {
			fmt.Fprintf(w, "  and the SCRAM admin's: kubectl%s create secret generic %s --from-literal=%s=%s\n",
				nsFlag, SASLAdminSecret, SASLAdminSecretKey, saslAdminPassword(sp.Kafka.SASL))
		}
	}
	return nil
}

// saslAdminPassword is the shell expression that yields kafka.sasl's password, never its value.
// $(cat) rather than --from-file: the Secret must not keep the file's trailing newline, as
// spec.ResolvePassword drops it.
func saslAdminPassword(a *spec.SASL) string {
	if a.PasswordEnv != "" {
		return fmt.Sprintf("\"$%s\"", a.PasswordEnv)
	}
	return fmt.Sprintf("\"$(cat %s)\"", a.PasswordFile)
}

// keystorePassword is the shell expression that yields the keystore password the certs command
// uses, in spec.ResolvePassword's order: $passwordEnv when it is set; else tls.passwordFile when no
// variable is named; else the password certs generated into tls.dir/keystore.password (genFile)
// because the variable was not set (generated is then true). Printing "$AVATAR_KEYSTORE_PASSWORD"
// in that last case would have the user create a Secret with an empty password. $(cat) rather than
// --from-file: the Secret must not keep the file's trailing newline.
func keystorePassword(sp *spec.Spec, getenv func(string) string, genFile string) (expr string, generated bool) {
	if pwFile := sp.TLS.PasswordFile; pwFile != "" && sp.TLS.PasswordEnv == "" {
		return fmt.Sprintf("\"$(cat %s)\"", pwFile), false
	}
	env := sp.TLS.PasswordEnv
	if env == "" {
		env = "AVATAR_KEYSTORE_PASSWORD"
	}
	if getenv(env) == "" && genFile != "" {
		return fmt.Sprintf("\"$(cat %s)\"", genFile), true
	}
	return fmt.Sprintf("\"$%s\"", env), false
}
