package clusters

import (
	"errors"
	"testing"

	"github.com/IBM/sarama"
)

// TestOutcomeInOrder: the one fold of an answer per item that CreateACLs, DeleteACLs and
// AlterQuotas share (issue 20): each key gets its own answer's error (nil for a success), and an
// answer with more or fewer results than items asked is an error, never an outcome that skips or
// shifts one.
func TestOutcomeInOrder(t *testing.T) {
	errOf := func(e sarama.AlterClientQuotasEntryResponse) error { return kafkaErr(e.ErrorCode, e.ErrorMsg) }
	msg := "no such user"
	out, err := outcomeInOrder("alter quotas", "entities", []string{"user=a", "user=b"},
		[]sarama.AlterClientQuotasEntryResponse{{}, {ErrorCode: sarama.ErrInvalidRequest, ErrorMsg: &msg}}, errOf)
	if err != nil || len(out) != 2 || out["user=a"] != nil || !errors.Is(out["user=b"], sarama.ErrInvalidRequest) {
		t.Errorf("outcome %v, %v; want user=a ok and user=b INVALID_REQUEST", out, err)
	}
	if _, err := outcomeInOrder("alter quotas", "entities", []string{"user=a", "user=b"},
		[]sarama.AlterClientQuotasEntryResponse{{}}, errOf); err == nil || err.Error() != "alter quotas: 1 answers for 2 entities" {
		t.Errorf("short answer: %v; want \"alter quotas: 1 answers for 2 entities\"", err)
	}
}
