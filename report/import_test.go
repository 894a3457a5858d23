package report

import (
	"bytes"
	"testing"

	"github.com/avatar-project/avatar-sync/spec"
)

func TestRenderImportSummary(t *testing.T) {
	for _, tc := range []struct {
		sp   *spec.Spec
		want string
	}{
		{&spec.Spec{Topics: make([]spec.Topic, 4), Brokers: make([]spec.Broker, 3)},
			"Wrote avatar.yaml: 4 topics, 3 brokers, target lab. Next: avatar-sync plan -f avatar.yaml --cluster lab\n"},
		{&spec.Spec{Topics: make([]spec.Topic, 1), Brokers: make([]spec.Broker, 1), Users: make([]spec.User, 2), ACLs: make([]spec.ACL, 5)},
			"Wrote avatar.yaml: 1 topics, 1 brokers, 2 users (no passwords), 5 ACL entries, 0 quotas, target lab. Next: avatar-sync plan -f avatar.yaml --cluster lab\n"},
	} {
		var b bytes.Buffer
		if err := RenderImportSummary(&b, "avatar.yaml", spec.Document{Spec: tc.sp}, "lab"); err != nil {
			t.Fatal(err)
		}
		if b.String() != tc.want {
			t.Errorf("got  %q\nwant %q", b.String(), tc.want)
		}
	}
}
