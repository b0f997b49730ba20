//go:build !unix

package bundle

import "errors"

func syscallMkfifo(string) error { return errors.New("unsupported") }
