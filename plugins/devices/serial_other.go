//go:build !linux

package devices

import (
	"context"
	"os"
)

// accessRW approximates access(2) by opening the file read-write.
func accessRW(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	return f.Close()
}

func querySerial(context.Context, string, int, string, string) (string, error) {
	return "", errUnsupported
}
