package router

import (
	"fmt"
	"strings"
	"testing"
)

// benchMatch matches paths round-robin after checking that they are Found
// without allocating.
func benchMatch(b *testing.B, tab *Table[string], paths ...string) {
	params := make([]Param, 0, 8)
	for _, p := range paths {
		allocs := testing.AllocsPerRun(10, func() {
			if m := tab.Match("GET", p, params); m.Status != Found {
				b.Fatalf("GET %s: %v", p, m.Status)
			}
		})
		if allocs != 0 {
			b.Fatalf("GET %s: %v allocs per match", p, allocs)
		}
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		tab.Match("GET", paths[i%len(paths)], params)
		i++
	}
}

func petstore(b *testing.B) *Table[string] {
	return build(b,
		"GET /acme/sandbox/petstore/pets",
		"POST /acme/sandbox/petstore/pets",
		"GET /acme/sandbox/petstore/pets/mine",
		"GET /acme/sandbox/petstore/pets/{petId}",
		"DELETE /acme/sandbox/petstore/pets/{petId}",
		"GET /acme/sandbox/petstore/pets/{petId}/photos/{photoId}.jpg",
		"GET /acme/sandbox/petstore/stores/{storeId}",
	)
}

func BenchmarkMatchStatic(b *testing.B) {
	benchMatch(b, petstore(b), "/acme/sandbox/petstore/pets/mine")
}

func BenchmarkMatchParam(b *testing.B) {
	benchMatch(b, petstore(b), "/acme/sandbox/petstore/pets/42/photos/7.jpg")
}

// BenchmarkMatch1000Routes has 1000 APIs of four operations each, spread
// over a few organizations and catalogs, and matches every operation kind.
func BenchmarkMatch1000Routes(b *testing.B) {
	var routes, paths []string
	for i := range 1000 {
		org, catalog, base := fmt.Sprintf("org%d", i%10), []string{"sandbox", "prod"}[i%2], fmt.Sprintf("/api%d/v1", i)
		for _, op := range []string{"GET /items", "POST /items", "GET /items/{id}", "GET /items/{id}/files/{name}.json"} {
			method, path, _ := strings.Cut(op, " ")
			routes = append(routes, method+" "+Join(org, catalog, base, path))
		}
		if i%97 == 0 {
			paths = append(paths,
				Join(org, catalog, base, "/items"),
				Join(org, catalog, base, "/items/123"),
				Join(org, catalog, base, "/items/123/files/report.json"))
		}
	}
	benchMatch(b, build(b, routes...), paths...)
}
