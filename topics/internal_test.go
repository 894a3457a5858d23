package topics

import "testing"

func TestIsInternalName(t *testing.T) {
	for name, want := range map[string]bool{
		"__consumer_offsets": true, "__transaction_state": true, "__cluster_metadata": true, "_schemas": true,
		"__avatar_sync_lock": true, "connect-offsets": true, "_confluent-metrics": true,
		"eeg-brainwave-data": false, "drone-commands": false, "_private": false,
	} {
		if got := IsInternalName(name); got != want {
			t.Errorf("IsInternalName(%q) = %v, want %v", name, got, want)
		}
	}
	if !IsInternal("plain", Observed{Internal: true}) {
		t.Error("a topic the cluster flags internal must be internal")
	}
}
