package session

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/avatar-project/avatar-sync/certs"
	"github.com/avatar-project/avatar-sync/kube"
	"github.com/avatar-project/avatar-sync/render"
	"github.com/avatar-project/avatar-sync/spec"
)

// KubeDesired is what the Kubernetes plane applies for a target with kubernetes: (issue 11): the
// objects `render --build --cluster NAME` prints, plus the keystore-password Secret resolved as
// `certs generate` resolves it (tls.passwordEnv, tls.passwordFile, tls.dir/keystore.password) and,
// with SASL listeners, the SCRAM admin's Secret from kafka.sasl, so nobody runs `kubectl create
// secret` by hand. The password goes only into the returned object.
func KubeDesired(sp *spec.Spec, cluster string, getenv func(string) string) (kube.Desired, error) {
	c, ok := sp.FindCluster(cluster)
	if !ok || c.Kubernetes == nil {
		return kube.Desired{}, fmt.Errorf("--cluster %q has no kubernetes: block", cluster)
	}
	// The build resolves tls.dir relative to where render writes by default (beside the spec).
	manifests, err := render.BuildSpec(sp, filepath.Join(filepath.Dir(sp.File), "deploy"), cluster, render.OnDisk())
	if err != nil {
		return kube.Desired{}, err
	}
	objs, err := kube.Parse(manifests)
	if err != nil {
		return kube.Desired{}, fmt.Errorf("render --build --cluster %s: %w", cluster, err)
	}
	want := kube.Desired{Inventory: sp.Metadata.Name, Objects: objs}
	if want.Inventory == "" {
		want.Inventory = "kafka" // render's default instance name
	}
	ns := c.Kubernetes.Namespace
	if ns == "" {
		ns = sp.Metadata.Namespace
	}
	labels := map[string]string{
		"app.kubernetes.io/managed-by": "avatar-sync",
		"app.kubernetes.io/part-of":    "avatar",
		"app.kubernetes.io/name":       "kafka",
		"app.kubernetes.io/instance":   want.Inventory,
	}
	if render.NeedsPasswordSecret(sp) {
		src, err := certs.Load(sp)
		if err != nil {
			return kube.Desired{}, err
		}
		pw, err := certs.ResolvePassword(sp, src, getenv, rand.Reader)
		if err != nil {
			return kube.Desired{}, err
		}
		if pw.File != nil {
			// A password would be generated now: no keystore was written with it, so brokers could not
			// open theirs.
			return kube.Desired{}, errors.New("no keystore password yet (tls.passwordEnv / tls.passwordFile unset or empty, no tls.dir/keystore.password): run `avatar-sync certs generate` first")
		}
		// Issue 21: a password the stores reject would reach the brokers only at their next restart.
		if err := certs.CheckPassword(sp, src, pw); err != nil {
			return kube.Desired{}, err
		}
		want.Objects = append(want.Objects, kube.PasswordSecret(ns, render.PasswordSecret, render.PasswordSecretKey, pw.Value, labels))
	}
	if render.NeedsSASLAdminSecret(sp) {
		// The SCRAM admin the brokers format their storage with (issue 14), from kafka.sasl's
		// reference; refused here rather than by a broker that will not start.
		a := sp.Kafka.SASL
		pw, from, err := spec.ResolvePassword(a.PasswordEnv, a.PasswordFile, getenv, os.ReadFile)
		if err != nil {
			return kube.Desired{}, fmt.Errorf("kafka.sasl (the SCRAM admin): %w", err)
		}
		if err := render.CheckSCRAMAdminPassword(pw); err != nil {
			return kube.Desired{}, fmt.Errorf("kafka.sasl password from %s: %w", from, err)
		}
		want.Objects = append(want.Objects, kube.PasswordSecret(ns, render.SASLAdminSecret, render.SASLAdminSecretKey, pw, labels))
	}
	return want, nil
}

// openObjects connects the Kubernetes plane of a target with kubernetes: (nil for other targets):
// the API server as kubectl finds it ($KUBECONFIG or ~/.kube/config, the target's context) and the
// objects to apply. Every error is one line naming the target.
func openObjects(ctx context.Context, sp *spec.Spec, cluster string, getenv func(string) string) (*kube.Plane, error) {
	c, ok := sp.FindCluster(cluster)
	if !ok || c.Kubernetes == nil {
		return nil, nil
	}
	client, err := kube.Connect(ctx, kube.Target{Name: cluster, Context: c.Kubernetes.Context})
	if err != nil {
		return nil, err
	}
	want, err := KubeDesired(sp, cluster, getenv)
	if err != nil {
		return nil, fmt.Errorf("target %s: %w", cluster, err)
	}
	return &kube.Plane{Client: client, Desired: want}, nil
}
