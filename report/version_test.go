package report

import (
	"bytes"
	"testing"
)

func TestRenderVersion(t *testing.T) {
	info := map[string]string{"version": "v1.2.3", "commit": "", "date": "2026-12-07T01:00:00Z", "go": "go1.26.8", "platform": "linux/amd64"}
	var b bytes.Buffer
	if err := RenderVersionText(&b, info); err != nil {
		t.Fatal(err)
	}
	if want := "avatar-sync v1.2.3 (commit unknown, built 2026-12-07T01:00:00Z, go1.26.8, linux/amd64)\n"; b.String() != want {
		t.Errorf("got %q, want %q", b.String(), want)
	}
	b.Reset()
	if err := RenderVersionJSON(&b, map[string]string{"version": "dev", "commit": ""}); err != nil {
		t.Fatal(err)
	}
	if want := "{\n  \"commit\": \"\",\n  \"version\": \"dev\"\n}\n"; b.String() != want {
		t.Errorf("got %q, want %q", b.String(), want)
	}
}
