package kfake

import (
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// AlterPartitionAssignments: v0-1
//
// KIP-455: Admin API to reassign partitions.
//
// Behavior:
// * ACL: ALTER on CLUSTER
// * If Replicas is null, this is a cancel request: the partition goes back to
//   its replicas before the reassignment, or NO_REASSIGNMENT_IN_PROGRESS
// * Otherwise the partition moves (avatar-sync patch, reassign.go): the
//   reassignment is listed by ListPartitionReassignments until it completes
//   (ReassignmentDelay), then the replicas are the new ones and leadership
//   follows the preferred (first) replica. An empty, repeated or unknown
//   broker is INVALID_REPLICA_ASSIGNMENT, as in Kafka; a changed replication
//   factor with AllowReplicationFactorChange false (v1) is
//   INVALID_REPLICATION_FACTOR.
//
// Version notes:
// * v1: AllowReplicationFactorChange

func init() { regKey(45, 0, 1) }

func (c *Cluster) handleAlterPartitionAssignments(creq *clientReq) (kmsg.Response, error) {
	req := creq.kreq.(*kmsg.AlterPartitionAssignmentsRequest)
	resp := req.ResponseKind().(*kmsg.AlterPartitionAssignmentsResponse)

	if err := c.checkReqVersion(req.Key(), req.Version); err != nil {
		return nil, err
	}

	if e := c.denyCluster(creq, kmsg.ACLOperationAlter); e != nil {
		resp.ErrorCode = e.Code
		if creq.skipsWork(e) {
			return resp, nil
		}
	}

	changed := false
	defer func() {
		if changed {
			c.persistTopicsState()
		}
	}()
	for _, rt := range req.Topics {
		st := kmsg.NewAlterPartitionAssignmentsResponseTopic()
		st.Topic = rt.Topic

		t, ok := c.data.tps.gett(rt.Topic)
		for _, rp := range rt.Partitions {
			sp := kmsg.NewAlterPartitionAssignmentsResponseTopicPartition()
			sp.Partition = rp.Partition

			// If replicas is non-nil, we "accept" the reassignment request
			// but do nothing since kfake doesn't actually support multi-broker
			// reassignment. ErrorCode stays 0 (success).
			if e := creq.faults.check(faultKey{topic: rt.Topic}.part(rp.Partition)); e != nil {
				sp.ErrorCode = e.Code
			} else if !ok {
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
			} else if _, pok := t[rp.Partition]; !pok {
				sp.ErrorCode = kerr.UnknownTopicOrPartition.Code
			} else if rp.Replicas == nil {
				// Null replicas means cancel reassignment.
				if c.cancelReassignment(t[rp.Partition]) {
					c.reassigning--
					changed = true
				} else {
					sp.ErrorCode = kerr.NoReassignmentInProgress.Code
				}
			} else if msg := c.checkAssignment(rp.Replicas); msg != "" {
				sp.ErrorCode = kerr.InvalidReplicaAssignment.Code
				sp.ErrorMessage = &msg
			} else if pd := t[rp.Partition]; !req.AllowReplicationFactorChange && len(rp.Replicas) != len(origReplicas(pd)) {
				sp.ErrorCode = kerr.InvalidReplicationFactor.Code
			} else {
				was := pd.reassign != nil
				c.startReassignment(pd, rp.Replicas)
				switch now := pd.reassign != nil; {
				case now && !was:
					c.reassigning++
				case !now && was:
					c.reassigning--
				}
				changed = true
			}

			st.Partitions = append(st.Partitions, sp)
		}

		resp.Topics = append(resp.Topics, st)
	}

	return resp, nil
}

// checkAssignment returns Kafka's reason for refusing a target replica list,
// or "" when every replica is a distinct existing broker.
func (c *Cluster) checkAssignment(replicas []int32) string {
	if len(replicas) == 0 {
		return "The manual partition assignment includes an empty replica list."
	}
	seen := make(map[int32]bool, len(replicas))
	for _, r := range replicas {
		if seen[r] {
			return fmt.Sprintf("The manual partition assignment includes the broker %d more than once.", r)
		}
		seen[r] = true
		if c.brokerByNode(r) == nil {
			return fmt.Sprintf("The manual partition assignment includes broker %d, but no such broker is registered.", r)
		}
	}
	return ""
}

// origReplicas is the partition's replicas before any reassignment in progress.
func origReplicas(pd *partData) []int32 {
	if pd.reassign != nil {
		return pd.reassign.orig
	}
	return pd.replicas
}
