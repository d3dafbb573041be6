package gatewayscript_test

import (
	"testing"
)

// benchScript is a typical gatewayscript: read the JSON body, set a
// variable and a header, write JSON.
const benchScript = `
context.message.body.readAsJSON(function (error, order) {
  if (error) { context.reject('BadRequestError', 'not JSON'); return; }
  var total = 0;
  for (var i = 0; i < order.items.length; i++) { total += order.items[i].price * order.items[i].qty; }
  context.set('order.total', total);
  context.message.header.set('X-Order-Id', order.id);
  context.message.body.write({id: order.id, total: total, items: order.items.length});
});
`

const benchBody = `{"id":"o-7","customer":{"name":"Ada","tier":"gold"},"items":[{"sku":"a1","price":2.5,"qty":2},{"sku":"b2","price":10,"qty":1},{"sku":"c3","price":1.25,"qty":4}]}`

func BenchmarkGatewayScript(b *testing.B) {
	a, api := mustCompile(&testing.T{}, newEnv(testOptions()), script(benchScript))
	b.ReportAllocs()
	for b.Loop() {
		c := newContext(b, api, request{method: "POST", body: benchBody})
		if err := a.Run(c); err != nil {
			b.Fatal(err)
		}
		if _, err := c.Message.Body.Bytes(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkContextOnly is the cost of the context alone, without the
// script, to subtract from BenchmarkGatewayScript.
func BenchmarkContextOnly(b *testing.B) {
	_, api := mustCompile(&testing.T{}, newEnv(testOptions()), script(`context.set('x', 1);`))
	b.ReportAllocs()
	for b.Loop() {
		newContext(b, api, request{method: "POST", body: benchBody})
	}
}
