package render

import (
	"bytes"
	"strings"
	"testing"

	"github.com/avatar-project/avatar-sync/spec"
)

func TestRenderResultText(t *testing.T) {
	noEnv := func(string) string { return "" }
	withEnv := func(k string) string { return map[string]string{"AVATAR_KEYSTORE_PASSWORD": "secret"}[k] }
	plain := exampleSpec("/lab")
	plain.TLS = spec.TLS{}
	res := Result{Written: []string{"base/kustomization.yaml"}, Removed: []string{"base/old.yaml"}, Unchanged: []string{"base/ns.yaml"}}
	for _, tc := range []struct {
		name       string
		sp         *spec.Spec
		res        Result
		o          ReportOptions
		out, notes string
	}{
		{name: "check, stale", sp: plain, res: res, o: ReportOptions{OutDir: "deploy", Target: TargetKustomize, Check: true, Getenv: noEnv},
			out: "  would write  deploy/base/kustomization.yaml\n  would remove deploy/base/old.yaml\n" +
				"kustomize tree in deploy is stale: 1 to write, 1 to remove. Run `avatar-sync render --target kustomize -d deploy`.\n"},
		{name: "check, up to date", sp: plain, res: Result{Unchanged: []string{"a", "b"}}, o: ReportOptions{OutDir: "deploy", Target: TargetCompose, Check: true, Getenv: noEnv},
			out: "Docker Compose deployment in deploy is up to date (2 files).\n"},
		{name: "kustomize without TLS, verbose", sp: plain, res: res, o: ReportOptions{OutDir: "deploy", Target: TargetKustomize, Verbose: true, File: "avatar.yaml", Getenv: noEnv},
			out: "  wrote   deploy/base/kustomization.yaml\n  removed deploy/base/old.yaml\n  unchanged deploy/base/ns.yaml\n" +
				"Rendered kustomize tree into deploy: 1 written, 1 removed, 1 unchanged.\n" +
				"Next (microk8s): avatar-sync apply -f avatar.yaml --cluster microk8s\n" +
				"  or, deploying with kubectl instead: kubectl apply -k deploy/overlays/microk8s\n"},
		{name: "kustomize with TLS and no CA yet", sp: exampleSpec("/lab"), res: Result{}, o: ReportOptions{OutDir: "deploy", Target: TargetKustomize, File: "avatar.yaml",
			TLSDir: "/lab/ssl-certs", NoCA: true, Getenv: withEnv},
			out: "Rendered kustomize tree into deploy: 0 written, 0 removed, 0 unchanged.\n" +
				"Next (microk8s): avatar-sync apply -f avatar.yaml --cluster microk8s\n" +
				"  (it applies the overlay and makes the Secret kafka-tls-password from the spec's password references)\n" +
				"  or, deploying with kubectl instead: kubectl apply -k deploy/overlays/microk8s\n" +
				"  then, once per namespace: kubectl -n avatar create secret generic kafka-tls-password --from-literal=password=\"$AVATAR_KEYSTORE_PASSWORD\"\n",
			notes: "note: /lab/ssl-certs holds no certificates yet; run `avatar-sync certs generate -f avatar.yaml` before deploying\n"},
		{name: "compose with a generated password", sp: exampleSpec("/lab"), res: Result{}, o: ReportOptions{OutDir: "deploy", Target: TargetCompose,
			GeneratedPassword: "/lab/ssl-certs/keystore.password", Getenv: noEnv},
			out: "Rendered Docker Compose deployment into deploy: 0 written, 0 removed, 0 unchanged.\n" +
				"Next: AVATAR_KEYSTORE_PASSWORD=\"$(cat /lab/ssl-certs/keystore.password)\" docker compose -f deploy/docker-compose.yml up -d\n"},
		{name: "a set variable wins over the generated file", sp: exampleSpec("/lab"), res: Result{}, o: ReportOptions{OutDir: "deploy", Target: TargetCompose,
			GeneratedPassword: "/lab/ssl-certs/keystore.password", Getenv: withEnv},
			out: "Rendered Docker Compose deployment into deploy: 0 written, 0 removed, 0 unchanged.\n" +
				"Next: docker compose -f deploy/docker-compose.yml up -d\n"},
	} {
		var out, notes bytes.Buffer
		if err := RenderResultText(&out, &notes, tc.sp, tc.res, tc.o); err != nil {
			t.Fatal(err)
		}
		if out.String() != tc.out || notes.String() != tc.notes {
			t.Errorf("%s:\nout:\n%s\nwant:\n%s\nnotes: %q\nwant:  %q", tc.name, out.String(), tc.out, notes.String(), tc.notes)
		}
	}
}

func TestKeystorePassword(t *testing.T) {
	set := func(string) string { return "x" }
	unset := func(string) string { return "" }
	for _, tc := range []struct {
		name          string
		tls           spec.TLS
		getenv        func(string) string
		genFile       string
		want          string
		wantGenerated bool
	}{
		{"the variable", spec.TLS{PasswordEnv: "PW"}, set, "", `"$PW"`, false},
		{"the default variable", spec.TLS{}, set, "", `"$AVATAR_KEYSTORE_PASSWORD"`, false},
		{"a password file and no variable", spec.TLS{PasswordFile: "/run/pw"}, unset, "/d/keystore.password", `"$(cat /run/pw)"`, false},
		{"unset variable, generated file", spec.TLS{PasswordEnv: "PW"}, unset, "/d/keystore.password", `"$(cat /d/keystore.password)"`, true},
		{"unset variable, nothing generated", spec.TLS{PasswordEnv: "PW"}, unset, "", `"$PW"`, false},
	} {
		sp := &spec.Spec{TLS: tc.tls}
		got, gen := keystorePassword(sp, tc.getenv, tc.genFile)
		if got != tc.want || gen != tc.wantGenerated {
			t.Errorf("%s: got %s %v, want %s %v", tc.name, got, gen, tc.want, tc.wantGenerated)
		}
	}
}

func TestRenderResultJSON(t *testing.T) {
	var b bytes.Buffer
	if err := RenderResultJSON(&b, Result{Dir: "deploy", Target: TargetKustomize, Written: []string{"a"}}, true); err != nil {
		t.Fatal(err)
	}
	want := `{
  "dir": "deploy",
  "target": "kustomize",
  "written": [
    "a"
  ],
  "unchanged": [],
  "removed": [],
  "check": true,
  "changed": true
}
`
	if b.String() != want || strings.Contains(b.String(), "null") {
		t.Errorf("got:\n%s\nwant:\n%s", b.String(), want)
	}
}
