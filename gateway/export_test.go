package gateway

import "github.com/redis/go-redis/v9"

// StoreClient is the Redis client of g's shared store (nil for the memory
// store), for tests that count what a request sends.
func StoreClient(g *Gateway) redis.UniversalClient { return g.redisClient() }
