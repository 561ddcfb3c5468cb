package output

import (
	"encoding/json"
	"reflect"
)

// NonNil returns v with every nil slice and map inside it (through structs, pointers,
// slices, maps and interfaces) replaced by an empty one, so that JSON shows [] and {}
// where Go would write null: a script iterating a list must not meet null. Nil pointers
// stay nil (an absent optional value), and values that marshal themselves are left as
// they are.
func NonNil(v any) any {
	if v == nil {
		return nil
	}
	rv := reflect.ValueOf(v)
	out := nonNil(rv)
	if !out.IsValid() {
		return v
	}
	return out.Interface()
}

var marshalerType = reflect.TypeFor[json.Marshaler]()

func nonNil(v reflect.Value) reflect.Value {
	if v.Type().Implements(marshalerType) && v.Kind() != reflect.Interface {
		return v
	}
	switch v.Kind() {
	case reflect.Slice:
		if v.Type().Elem().Kind() == reflect.Uint8 { // []byte is base64 or raw JSON
			return v
		}
		out := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		for i := range v.Len() {
			out.Index(i).Set(nonNil(v.Index(i)))
		}
		return out
	case reflect.Map:
		out := reflect.MakeMapWithSize(v.Type(), v.Len())
		iter := v.MapRange()
		for iter.Next() {
			out.SetMapIndex(iter.Key(), nonNil(iter.Value()))
		}
		return out
	case reflect.Pointer:
		if v.IsNil() {
			return v
		}
		elem := nonNil(v.Elem())
		p := reflect.New(v.Type().Elem())
		p.Elem().Set(elem)
		return p
	case reflect.Interface:
		if v.IsNil() {
			return v
		}
		inner := nonNil(v.Elem())
		out := reflect.New(v.Type()).Elem()
		out.Set(inner)
		return out
	case reflect.Struct:
		out := reflect.New(v.Type()).Elem()
		out.Set(v)
		for i := range v.NumField() {
			if f := v.Type().Field(i); f.IsExported() {
				out.Field(i).Set(nonNil(v.Field(i)))
			}
		}
		return out
	}
	return v
}
