package clusters

import (
	"slices"
	"testing"

	"github.com/avatar-project/avatar-sync/spec"
)

func TestDevPorts(t *testing.T) {
	three := &spec.Spec{Brokers: []spec.Broker{
		{Host: "b1", Ports: spec.BrokerPorts{Plaintext: 9092, SSL: 9192}},
		{Host: "b2", Ports: spec.BrokerPorts{Plaintext: 9093, SSL: 9193}},
		{Host: "b3", Ports: spec.BrokerPorts{SSL: 9194}},
	}}
	shared := &spec.Spec{Brokers: []spec.Broker{
		{Host: "b1", Ports: spec.BrokerPorts{Plaintext: 9092, SSL: 9192}},
		{Host: "b2", Ports: spec.BrokerPorts{Plaintext: 9092, SSL: 9192}},
	}}
	for _, tc := range []struct {
		name    string
		ssl     bool
		sp      *spec.Spec
		flag    []int
		want    []int
		wantErr string
	}{
		{name: "the brokers' plaintext ports, 9092 upwards where unset", sp: three, want: []int{9092, 9093, 9094}},
		{name: "no brokers: three, from 9092", sp: &spec.Spec{}, want: []int{9092, 9093, 9094}},
		{name: "--ports wins", sp: three, flag: []int{0, 0, 19092}, want: []int{0, 0, 19092}},
		{name: "--ports, one short", sp: three, flag: []int{1, 2}, wantErr: "--ports: 2 ports for 3 brokers"},
		{name: "--ports twice the same", sp: three, flag: []int{1, 2, 1}, wantErr: "--ports: port 1 is given twice; each broker needs its own"},
		{name: "brokers sharing a port", sp: shared,
			wantErr: "brokers[0] and brokers[1] both use plaintext port 9092; dev up serves every broker on this machine, so pass --ports with one port per broker"},
		{name: "SSL ports", ssl: true, sp: three, want: []int{9192, 9193, 9194}},
		{name: "SSL ports shared", ssl: true, sp: shared,
			wantErr: "brokers[0] and brokers[1] both use ssl port 9192; dev up serves every broker on this machine, so pass --ports with one port per broker"},
		{name: "a broker without an SSL port", ssl: true, sp: &spec.Spec{Brokers: []spec.Broker{{Host: "b1"}}},
			wantErr: "brokers[0] (b1) has no ports.ssl but tls.enabled is true; add one, or run dev up --plaintext"},
		{name: "SSL with --ports", ssl: true, sp: three, flag: []int{1, 2, 3}, want: []int{1, 2, 3}},
	} {
		pick := DevPorts
		if tc.ssl {
			pick = DevSSLPorts
		}
		got, err := pick(tc.sp, tc.flag)
		switch {
		case tc.wantErr != "":
			if err == nil || err.Error() != tc.wantErr {
				t.Errorf("%s: err %v, want %q", tc.name, err, tc.wantErr)
			}
		case err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case !slices.Equal(got, tc.want):
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
	}
	if got := SSLPorts(three); got != "9192,9193,9194" {
		t.Errorf("SSLPorts: %q", got)
	}
}

func TestDevTarget(t *testing.T) {
	sp := &spec.Spec{Clusters: []spec.Cluster{
		{Name: "embedded"}, {Name: "laptop", Security: spec.SecuritySASLPlaintext},
		{Name: "lab", Bootstrap: []string{"10.0.0.5:9092", "10.0.0.6:9092"}},
	}}
	for _, name := range []string{"embedded", "laptop"} {
		if c, err := DevTarget(sp, name); err != nil || c.Name != name {
			t.Errorf("%s: %+v, %v", name, c, err)
		}
	}
	want := "--cluster lab: dev up serves an embedded target (one without bootstrap:), and clusters.lab points at brokers that run elsewhere (10.0.0.5:9092,10.0.0.6:9092); pass --cluster embedded or another target without bootstrap"
	if _, err := DevTarget(sp, "lab"); err == nil || err.Error() != want {
		t.Errorf("lab: %v", err)
	}
}
