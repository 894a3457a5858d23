package clusters

import (
	"context"
	"crypto/tls"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// advertiseHandshakeV0 makes the embedded cluster advertise SaslHandshake versions 0-1, as every
// Kafka broker does, instead of kfake's 1 only. librdkafka — kcat and confluent-kafka-python, which
// the Avatar services use — starts SCRAM only when the broker lists version 0, then negotiates
// version 1, which kfake serves (issue 14: test a service's credentials against `dev up` with
// kcat). The cluster's own ApiVersions answer is read once, before any client connects, and served
// with that one range widened; requests of a version the cluster does not know still get its own
// answer.
//
// With TLS listeners the read skips certificate verification: it is this process's own listener,
// and the request carries nothing but a client name.
func advertiseHandshakeV0(ctx context.Context, c *kfake.Cluster, listenersTLS bool) error {
	opts := []kgo.Opt{kgo.SeedBrokers(c.ListenAddrs()[0]), kgo.RequestRetries(0)}
	if listenersTLS {
		opts = append(opts, kgo.DialTLSConfig(&tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12})) //nolint:gosec // see above
	}
	cl, err := kgo.NewClient(opts...)
	if err != nil {
		return err
	}
	defer cl.Close()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req := kmsg.NewPtrApiVersionsRequest()
	req.ClientSoftwareName, req.ClientSoftwareVersion = "avatar-sync", "1"
	own, err := req.RequestWith(ctx, cl)
	if err != nil {
		return fmt.Errorf("read the embedded cluster's API versions: %w", err)
	}
	for i, k := range own.ApiKeys {
		if k.ApiKey == int16(kmsg.SASLHandshake) {
			own.ApiKeys[i].MinVersion = 0
		}
	}
	c.ControlKey(int16(kmsg.ApiVersions), func(r kmsg.Request) (kmsg.Response, error, bool) {
		if r.GetVersion() > own.Version {
			return nil, nil, false
		}
		c.KeepControl()
		resp := *own
		resp.ApiKeys = append([]kmsg.ApiVersionsResponseApiKey(nil), own.ApiKeys...)
		resp.SetVersion(r.GetVersion())
		return &resp, nil, true
	})
	return nil
}
