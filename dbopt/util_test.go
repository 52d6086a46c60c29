package dbopt

import "os"

func osMkdirTemp() (string, error) { return os.MkdirTemp("", "dbopt-example") }
func osRemoveAll(p string) error   { return os.RemoveAll(p) }
