// Package kfakeseam is the one link from the production clusters.Embedded to its kfake cluster
// that the test controls (clusters/internal/fakecontrol, clusters/clustertest) need. It is a
// separate package so that production code imports only this variable, not the controls or the
// franz-go client they use (issue 9).
package kfakeseam

import "github.com/twmb/franz-go/pkg/kfake"

// ClusterOf returns the kfake cluster inside a *clusters.Embedded; the clusters package sets it.
var ClusterOf func(embedded any) *kfake.Cluster
