package statuspage

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/avatar-project/avatar-sync/health"
)

func TestRenderShowsEverySectionAndEscapes(t *testing.T) {
	now := time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC)
	rate := 2.5
	d := Data{
		Cluster: "microk8s", SpecFile: "avatar.yaml", Revision: "sha256:abc", Now: now, Refresh: 10 * time.Second,
		LastPass: &Pass{At: now.Add(-90 * time.Second), Error: "cannot reach cluster \"microk8s\""},
		Pending:  3,
		Certs:    []Cert{{Name: "kafka-broker-1", Status: "renew", DaysLeft: 12, NotAfter: now.Add(12 * 24 * time.Hour)}},
		Devices:  []Device{{Name: "tello-1", Kind: "tello", Status: "failed", Detail: "no answer"}},
		Health: &health.Report{
			Healthy:  false,
			Problems: []string{"broker 3 (kafka-broker-3) is missing from the cluster"},
			Brokers:  []health.BrokerReport{{ID: 3, Name: "broker 3 (kafka-broker-3)", State: "missing"}},
			Summary:  health.PartitionTotal{Topics: 3, Partitions: 9, UnderReplicated: 2},
			Groups: []health.GroupReport{{Name: "<script>alert(1)</script>", State: "Stable", Members: 1, Lag: 7, LagRate: &rate,
				Topics: []health.GroupTopicLag{{Topic: "eeg", Lag: 7}}}},
		},
	}
	var buf bytes.Buffer
	if err := Render(&buf, d); err != nil {
		t.Fatal(err)
	}
	page := buf.String()
	for _, want := range []string{
		`<meta http-equiv="refresh" content="10">`,
		`id="verdict">UNHEALTHY</span>`,
		`<span class="bad">failed</span> 1m30s ago: cannot reach cluster &#34;microk8s&#34;`,
		`<span class="warn">3 change(s) pending</span>`,
		`<li class="bad">broker 3 (kafka-broker-3) is missing from the cluster</li>`,
		`<span class="warn">2 under-replicated</span>`,
		`<td>&lt;script&gt;alert(1)&lt;/script&gt;</td>`,
		`<td class="n">7</td><td class="n">&#43;2.5/s</td>`,
		`<td>kafka-broker-1</td><td class="warn">renew</td><td class="n">12</td><td>2026-12-12</td>`,
		`<td>tello-1</td><td>tello</td><td class="bad">failed</td><td>no answer</td>`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q:\n%s", want, page)
		}
	}
	if strings.Contains(page, "<script>alert") {
		t.Error("a group name reached the page unescaped")
	}
}

func TestRenderBeforeFirstPass(t *testing.T) {
	var buf bytes.Buffer
	if err := Render(&buf, Data{Cluster: "embedded", Now: time.Now()}); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"No pass has finished yet.", "Not read yet.", "No device check results yet.", `content="30"`} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("page lacks %q", want)
		}
	}
}
