package api

import (
	"reflect"
	"testing"

	"github.com/fieldservice/customer-service/domain/customer"
)

// fill sets every field reachable from v to a non-zero value, so that a mapping
// that forgets a field shows.
func fill(v reflect.Value) {
	switch v.Kind() {
	case reflect.Struct:
		if !v.Field(0).CanSet() { // the domain's enums: take a real value
			switch v.Addr().Interface().(type) {
			case *customer.Kind:
				v.Set(reflect.ValueOf(customer.Company))
			case *customer.PhoneType:
				v.Set(reflect.ValueOf(customer.Mobile))
			case *customer.AddressType:
				v.Set(reflect.ValueOf(customer.Service))
			}
			return
		}
		for i := range v.NumField() {
			fill(v.Field(i))
		}
	case reflect.Pointer:
		v.Set(reflect.New(v.Type().Elem()))
		fill(v.Elem())
	case reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 1, 1))
		fill(v.Index(0))
	case reflect.String:
		v.SetString("x")
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int64:
		v.SetInt(7)
	case reflect.Float64:
		v.SetFloat(1.5)
	}
}

func TestBodiesMapEveryField(t *testing.T) {
	t.Parallel()
	var d customer.Details
	fill(reflect.ValueOf(&d).Elem())
	if got := detailsOf(d).domain(); !reflect.DeepEqual(got, d) {
		t.Errorf("details lose fields on the way through the API:\n got %+v\nwant %+v", got, d)
	}
	var p patch
	fill(reflect.ValueOf(&p).Elem())
	dp := reflect.ValueOf(p.domain())
	for i := range dp.NumField() {
		if dp.Field(i).IsNil() {
			t.Errorf("a patch of %s does not reach the domain", dp.Type().Field(i).Name)
		}
	}
	if dp.NumField() != reflect.TypeFor[patch]().NumField() {
		t.Errorf("customer.Patch has %d fields, the API's patch %d", dp.NumField(), reflect.TypeFor[patch]().NumField())
	}
}
