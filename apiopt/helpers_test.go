package apiopt

import "github.com/perfengine/perfengine/apiopt/compress"

func compressLevel(l int) compress.Config { return compress.Config{BrotliLevel: l} }
