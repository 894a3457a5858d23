package report

import (
	"bytes"
	"strings"
	"testing"

	"github.com/avatar-project/avatar-sync/spec"
)

func TestRenderExplain(t *testing.T) {
	list, err := spec.ExplainAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != len(spec.TopicConfigs()) {
		t.Fatalf("%d explanations for %d keys", len(list), len(spec.TopicConfigs()))
	}
	one, err := spec.Explain("retention.ms")
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := RenderExplainText(&b, list, false); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(b.String(), "\n"), "\n")
	if len(lines) != len(list) || !strings.HasPrefix(lines[0], list[0].Key+" ") || len(lines[0]) < 41 || lines[0][40] != ' ' {
		t.Errorf("the list is one line per key, its name in a 40-column field:\n%s", b.String())
	}
	b.Reset()
	if err := RenderExplainText(&b, []spec.Explanation{one}, true); err != nil {
		t.Fatal(err)
	}
	if b.String() != one.String() {
		t.Errorf("one key prints its whole explanation:\n%s", b.String())
	}
	for _, tc := range []struct {
		list   []spec.Explanation
		one    bool
		prefix string
	}{{[]spec.Explanation{one}, true, "{\n  \"key\": \"retention.ms\""}, {list, false, "[\n  {\n    \"key\": "}} {
		b.Reset()
		if err := RenderExplainJSON(&b, tc.list, tc.one); err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(b.String(), tc.prefix) {
			t.Errorf("one=%v: %.80q", tc.one, b.String())
		}
	}
}
