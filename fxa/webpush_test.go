package fxa

import (
	"crypto/ecdh"
	"encoding/base64"
	"errors"
	"testing"
)

func b64u(s string) []byte {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// RFC 8291 §5: the published example, byte for byte.
func TestWebPushEncryptionMatchesRFC8291(t *testing.T) {
	t.Parallel()
	as, err := ecdh.P256().NewPrivateKey(b64u("yfWPiYE-n46HLnH0KqZOF1fJJU3MYrct3AELtAQ-oRw"))
	if err != nil {
		t.Fatal(err)
	}
	uaPublic := b64u("BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4")
	auth := b64u("BTBZMqHH6r4Tts7J_aSIgg")
	msg, err := encryptWebPush([]byte("When I grow up, I want to be a watermelon"), uaPublic, auth, as, b64u("DGv6ra1nlYgDCS1FRnbzlw"))
	if err != nil {
		t.Fatal(err)
	}
	const want = "DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN"
	if got := base64.RawURLEncoding.EncodeToString(msg); got != want {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
	ua, _ := ecdh.P256().NewPrivateKey(b64u("q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94"))
	plain, err := decryptWebPush(msg, ua, auth)
	if err != nil || string(plain) != "When I grow up, I want to be a watermelon" {
		t.Fatalf("%q %v", plain, err)
	}
	msg[len(msg)-1] ^= 1
	if _, err := decryptWebPush(msg, ua, auth); !errors.Is(err, ErrWebPush) {
		t.Errorf("a damaged message: %v", err)
	}
}

func FuzzDecryptWebPush(f *testing.F) {
	ua, _ := ecdh.P256().NewPrivateKey(b64u("q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94"))
	auth := b64u("BTBZMqHH6r4Tts7J_aSIgg")
	f.Add(b64u("DGv6ra1nlYgDCS1FRnbzlwAAEABBBP4z9KsN6nGRTbVYI_c7VJSPQTBtkgcy27mlmlMoZIIgDll6e3vCYLocInmYWAmS6TlzAC8wEqKK6PBru3jl7A_yl95bQpu6cVPTpK4Mqgkf1CXztLVBSt2Ks3oZwbuwXPXLWyouBWLVWGNWQexSgSxsj_Qulcy4a-fN"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, msg []byte) {
		decryptWebPush(msg, ua, auth) // must not panic
	})
}
