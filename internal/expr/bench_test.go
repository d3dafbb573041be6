package expr

import (
	"context"
	"testing"
)

func benchCondition(b *testing.B, src string, lang Lang) {
	c, err := CompileCondition(src, lang)
	if err != nil {
		b.Fatal(err)
	}
	env := newTestEnv(sampleContext())
	ctx := context.Background()
	if ok, err := c.Eval(ctx, env); err != nil || !ok {
		b.Fatalf("Eval = %v, %v", ok, err)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if ok, err := c.Eval(ctx, env); err != nil || !ok {
			b.Fatalf("Eval = %v, %v", ok, err)
		}
	}
}

func BenchmarkJSONataCondition(b *testing.B) {
	benchCondition(b, `$httpVerb() = 'GET' and $operationPath() = '/current'`, JSONata)
}

func BenchmarkJSCondition(b *testing.B) {
	benchCondition(b, `((request.verb==='GET')&&(api.operation.path==='/current'))`, JavaScript)
}

func BenchmarkJSConditionRef(b *testing.B) {
	benchCondition(b, `$(message.status.code) == '200'`, JavaScript)
}

func BenchmarkJSONataConditionRef(b *testing.B) {
	benchCondition(b, `$(request.headers.opname) = 'create'`, JSONata)
}

func BenchmarkJSONataConditionRootPath(b *testing.B) {
	benchCondition(b, `request.headers.SR = "true" and message.status.code = 200`, JSONata)
}

func BenchmarkJSONataConditionParallel(b *testing.B) {
	c, err := CompileCondition(`$httpVerb() = 'GET' and $operationPath() = '/current'`, JSONata)
	if err != nil {
		b.Fatal(err)
	}
	env := newTestEnv(sampleContext())
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if ok, err := c.Eval(context.Background(), env); err != nil || !ok {
				b.Fatal(ok, err)
			}
		}
	})
}

func BenchmarkJSConditionParallel(b *testing.B) {
	c, err := CompileCondition(`((request.verb==='GET')&&(api.operation.path==='/current'))`, JavaScript)
	if err != nil {
		b.Fatal(err)
	}
	env := newTestEnv(sampleContext())
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if ok, err := c.Eval(context.Background(), env); err != nil || !ok {
				b.Fatal(ok, err)
			}
		}
	})
}

func BenchmarkCompileCondition(b *testing.B) {
	b.Run("JSONata", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := CompileCondition(`$httpVerb() = 'GET' and $operationPath() = '/current'`, JSONata); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("JavaScript", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := CompileCondition(`((request.verb==='GET')&&(api.operation.path==='/current'))`, JavaScript); err != nil {
				b.Fatal(err)
			}
		}
	})
}
