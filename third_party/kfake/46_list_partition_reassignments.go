package kfake

import (
	"github.com/twmb/franz-go/pkg/kmsg"
)

// ListPartitionReassignments: v0
//
// KIP-455: Admin API to list in-progress partition reassignments.
//
// Behavior:
// * ACL: DESCRIBE on CLUSTER
// * Lists the reassignments in progress (avatar-sync patch, reassign.go):
//   every one when Topics is null, else those of the named partitions
//
// Version notes:
// * v0 only

func init() { regKey(46, 0, 0) }

func (c *Cluster) handleListPartitionReassignments(creq *clientReq) (kmsg.Response, error) {
	req := creq.kreq.(*kmsg.ListPartitionReassignmentsRequest)
	resp := req.ResponseKind().(*kmsg.ListPartitionReassignmentsResponse)

	if err := c.checkReqVersion(req.Key(), req.Version); err != nil {
		return nil, err
	}

	if e := c.denyCluster(creq, kmsg.ACLOperationDescribe); e != nil {
		resp.ErrorCode = e.Code
		return resp, nil
	}

	add := func(t string, p int32, pd *partData) {
		if pd.reassign == nil {
			return
		}
		sp := kmsg.NewListPartitionReassignmentsResponseTopicPartition()
		sp.Partition = p
		sp.Replicas = append([]int32(nil), pd.replicas...)
		sp.AddingReplicas = append([]int32(nil), pd.reassign.adding...)
		sp.RemovingReplicas = append([]int32(nil), pd.reassign.removing...)
		for i := range resp.Topics {
			if resp.Topics[i].Topic == t {
				resp.Topics[i].Partitions = append(resp.Topics[i].Partitions, sp)
				return
			}
		}
		st := kmsg.NewListPartitionReassignmentsResponseTopic()
		st.Topic = t
		st.Partitions = append(st.Partitions, sp)
		resp.Topics = append(resp.Topics, st)
	}
	if req.Topics == nil {
		c.data.tps.each(add)
	} else {
		for _, rt := range req.Topics {
			for _, p := range rt.Partitions {
				if pd, ok := c.data.tps.getp(rt.Topic, p); ok {
					add(rt.Topic, p, pd)
				}
			}
		}
	}

	return resp, nil
}
