package oda_test

import (
	"errors"
	"fmt"

	"github.com/wasmcanvas/wasmcanvas/pkg/oda"
)

func ExampleParse() {
	src := []byte(`apiVersion: oda.tmforum.org/v1
kind: Component
metadata:
  name: demo
spec:
  coreFunction:
    exposedAPIs:
    - name: catalog
      specification: [{url: "https://example.org/tmf620.json"}]
      apiType: openapi
      implementation: demo-api
      path: demo/catalog
      port: eighty
`)
	_, err := oda.Parse("component.yaml", src)
	var list oda.ErrorList
	if errors.As(err, &list) {
		for _, e := range list {
			fmt.Println(e.Error())
		}
	}
	// Output:
	// component.yaml:12: spec.coreFunction.exposedAPIs[0].path: "demo/catalog" must start with "/"; fix: write "/demo/catalog"
	// component.yaml:13: spec.coreFunction.exposedAPIs[0].port: must be an integer, got "eighty"
}

func ExampleConvert() {
	c, err := oda.Parse("component.yaml", []byte(`apiVersion: oda.tmforum.org/v1
kind: Component
metadata: {name: demo}
spec:
  componentMetadata: {id: TMFC001, name: demo}
  securityFunction: {canvasSystemRole: Admin}
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	old, err := oda.Convert(c, "v1beta3")
	if err != nil {
		fmt.Println(err)
		return
	}
	out, err := oda.Marshal(old, "yaml")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Print(string(out))
	// Output:
	// apiVersion: oda.tmforum.org/v1beta3
	// kind: Component
	// metadata:
	//   name: demo
	//   namespace: components
	// spec:
	//   id: TMFC001
	//   name: demo
	//   securityFunction:
	//     controllerRole: Admin
}
