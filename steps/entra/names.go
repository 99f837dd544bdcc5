package entra

import "context"

// nameOnce is the display name read gives for id, read once per id and
// kept in cache. The name only helps a person read the change: when it
// cannot be read, or is empty, the id stands in, and an empty id is not
// read at all. Only a cancelled call is an error, classified as op.
func nameOnce(ctx context.Context, id string, cache map[string]string, op string, ec errorContext, read func() (string, error)) (string, error) {
	if name, ok := cache[id]; ok {
		return name, nil
	}
	name := id
	if id != "" {
		n, err := read()
		if ctx.Err() != nil {
			return "", classify(ctx, op, err, ec)
		}
		if err == nil && n != "" {
			name = n
		}
	}
	cache[id] = name
	return name, nil
}
