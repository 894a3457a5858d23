package render

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// argparseStub plays kafka-storage.sh as Kafka's argument parser (argparse4j) reads --cluster-id: a
// separate value starting with '-' is taken for another flag, so the option has no argument and the
// tool exits 1; --cluster-id=VALUE is one argument whatever VALUE starts with. It records the id.
const argparseStub = `#!/bin/sh
id=
while [ $# -gt 0 ]; do
	case "$1" in
	--cluster-id=*) id="${1#--cluster-id=}" ;;
	--cluster-id)
		case "${2-}" in
		''|-*) echo "kafka-storage: error: argument --cluster-id/-t: expected one argument" >&2; exit 1 ;;
		esac
		id="$2"; shift ;;
	esac
	shift
done
printf '%s' "$id" > "$(dirname "$0")/cluster-id"
`

// The rendered start script formats storage with the derived cluster id even when that id starts
// with '-' (issue 21: about 1 name in 64 derives such an id, and the format, so the pod, failed).
// Both the Kubernetes and the Compose scripts run for real under /bin/sh against stub Kafka tools.
func TestStartScriptPassesAClusterIDStartingWithADash(t *testing.T) {
	s := exampleSpec("/repo")
	// "avatar-40" derives -c9Ldg9LyOg8Mm5CGT854g (sha256 of "avatar-sync/avatar-40").
	s.Metadata.Name = "avatar-40"
	m, err := newModel(s)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(m.clusterID, "-") {
		t.Fatalf("derived id %q: the test needs a name whose id starts with '-'", m.clusterID)
	}
	doc, _ := renderCompose(t, s)
	composeCmd := doc.Services["kafka-broker-1"].Command
	scripts := map[string]string{
		"kubernetes": m.startScript(),
		"compose":    strings.ReplaceAll(composeCmd[len(composeCmd)-1], "$$", "$"),
	}
	for target, script := range scripts {
		t.Run(target, func(t *testing.T) {
			dir := t.TempDir()
			for name, body := range map[string]string{"kafka-storage.sh": argparseStub, "kafka-server-start.sh": "#!/bin/sh\nexit 0\n"} {
				if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o755); err != nil {
					t.Fatal(err)
				}
			}
			cmd := exec.Command("/bin/sh", "-ec", strings.ReplaceAll(script, "/opt/kafka/bin/", dir+"/"))
			cmd.Env = []string{"PATH=/usr/bin:/bin", "CLUSTER_ID=" + m.clusterID, "KAFKA_TLS_PASSWORD=unused-here"}
			if out, err := cmd.CombinedOutput(); err != nil {
				t.Fatalf("the start script fails with cluster id %q: %v\n%s", m.clusterID, err, out)
			}
			got, err := os.ReadFile(filepath.Join(dir, "cluster-id"))
			if err != nil || string(got) != m.clusterID {
				t.Errorf("kafka-storage format got cluster id %q (%v), want %q", got, err, m.clusterID)
			}
		})
	}
}
