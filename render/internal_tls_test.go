package render

import (
	"strings"
	"testing"

	"github.com/avatar-project/avatar-sync/spec"
)

// internalTLSSpec is the example with tls.internal (no plaintext between brokers) and its access
// control, which the brokers then enforce: mTLS service principals and avatar-sync's own client
// certificate as super user (issue 14).
func internalTLSSpec(root string) *spec.Spec {
	s := exampleSpec(root)
	s.TLS.Internal = true
	s.TLS.Clients = []string{"avatar-sync", "gui5"}
	s.Kafka.SuperUsers = []string{"User:CN=avatar-sync,O=avatar-sync"}
	s.Users = []spec.User{{Name: "CN=gui5,O=avatar-sync", Mechanism: spec.MechanismMTLS}}
	s.Services = []spec.Service{{Name: "gui5", User: "CN=gui5,O=avatar-sync", Produces: []string{"eeg-brainwave-data"}}}
	return s
}

// TestInternalTLSProperties: with tls.internal the INTERNAL and CONTROLLER listeners map to SSL and
// require client certificates, so a broker (or anything else) reaches them only with a certificate
// of the CA; without it they stay PLAINTEXT, as docs/render.md says. Compose's health check stops
// using a Kafka tool that would need a client certificate.
func TestInternalTLSProperties(t *testing.T) {
	for name, tc := range map[string]struct {
		internal bool
		want     []string
		absent   []string
	}{
		"tls.internal": {internal: true,
			want: []string{"listener.security.protocol.map=CONTROLLER:SSL,INTERNAL:SSL,PLAINTEXT:PLAINTEXT,SSL:SSL",
				"listener.name.internal.ssl.client.auth=required", "listener.name.controller.ssl.client.auth=required"}},
		"default": {internal: false,
			want:   []string{"listener.security.protocol.map=CONTROLLER:PLAINTEXT,INTERNAL:PLAINTEXT,PLAINTEXT:PLAINTEXT,SSL:SSL"},
			absent: []string{"listener.name.internal.ssl.client.auth"}},
	} {
		t.Run(name, func(t *testing.T) {
			s := exampleSpec("/repo")
			s.TLS.Internal = tc.internal
			m, err := newModel(s)
			if err != nil {
				t.Fatal(err)
			}
			props := m.formatProperties(m.brokers[0], m.brokerProperties(m.brokers[0], composeNetwork()))
			for _, w := range tc.want {
				if !strings.Contains(props, w+"\n") {
					t.Errorf("server.properties lacks %q:\n%s", w, props)
				}
			}
			for _, a := range tc.absent {
				if strings.Contains(props, a) {
					t.Errorf("server.properties has %q", a)
				}
			}
			if got := m.healthCommand(m.brokers[0]); strings.Contains(got, "kafka-broker-api-versions") == tc.internal {
				t.Errorf("health check %q", got)
			}
		})
	}
}

// TestRenderedAuthorizer: the brokers enforce ACLs only when the spec declares access control and
// tls.internal is on; the super users are the brokers' certificate subjects, kafka.superUsers and
// the targets' SASL users — never User:ANONYMOUS, which every plaintext client is.
func TestRenderedAuthorizer(t *testing.T) {
	props := func(s *spec.Spec) string {
		t.Helper()
		m, err := newModel(s)
		if err != nil {
			t.Fatal(err)
		}
		return m.formatProperties(m.brokers[0], m.brokerProperties(m.brokers[0], composeNetwork()))
	}
	s := internalTLSSpec("/repo")
	s.Clusters = append(s.Clusters, spec.Cluster{Name: "cloud", Bootstrap: []string{"kafka.example.org:9094"}, Security: spec.SecuritySASLSSL,
		SASL: &spec.SASL{Mechanism: spec.MechanismSCRAM512, Username: "avatar", PasswordEnv: "X"}})
	got := props(s)
	for _, want := range []string{
		"authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer\n",
		"super.users=User:CN=avatar-sync,O=avatar-sync;User:CN=kafka-broker-1,O=avatar-sync;User:CN=kafka-broker-2,O=avatar-sync;User:CN=kafka-broker-3,O=avatar-sync;User:avatar\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("server.properties lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "ANONYMOUS") {
		t.Error("User:ANONYMOUS is a super user")
	}
	noInternal := internalTLSSpec("/repo")
	noInternal.TLS.Internal = false
	noAccess := internalTLSSpec("/repo")
	noAccess.Users, noAccess.Services = nil, nil
	for name, s := range map[string]*spec.Spec{"without tls.internal": noInternal, "without access control": noAccess} {
		if strings.Contains(props(s), "authorizer.class.name") {
			t.Errorf("%s: an authorizer is rendered", name)
		}
	}
}

// TestInternalTLSRefusesUI: the rendered Kafka UI reads INTERNAL without a client certificate, so
// render refuses the combination instead of deploying a UI that cannot connect.
func TestInternalTLSRefusesUI(t *testing.T) {
	s := internalTLSSpec("/repo")
	s.Kafka.UI = true
	if _, err := newModel(s); err == nil || !strings.Contains(err.Error(), "kafka.ui with tls.internal") {
		t.Errorf("newModel: %v", err)
	}
}
