package render

import (
	"strings"
	"testing"

	"github.com/avatar-project/avatar-sync/spec"
)

// internalTLSSpec is the example with tls.internal: no plaintext between brokers (issue 14).
func internalTLSSpec(root string) *spec.Spec {
	s := exampleSpec(root)
	s.TLS.Internal = true
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
