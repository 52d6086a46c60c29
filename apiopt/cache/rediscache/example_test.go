package rediscache_test

import (
	"net/http"

	"github.com/redis/go-redis/v9"

	"github.com/perfengine/perfengine/apiopt/cache"
	"github.com/perfengine/perfengine/apiopt/cache/rediscache"
)

// Two instances of a service, each with its own in-process cache, share
// entries and invalidations through one Redis.
func Example() {
	rc := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	defer rc.Close()
	c, err := cache.New(cache.Config{Shared: rediscache.New(rc, "myapi:cache:")})
	if err != nil {
		panic(err)
	}
	defer c.Close()
	api := http.NewServeMux()
	_ = c.Middleware(api) // serve this
}
