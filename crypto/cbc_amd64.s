//go:build amd64 && !purego

#include "textflag.h"

// The next AES-256 round key from the one two back (X1) and the assist of the last
// (X2, from AESKEYGENASSIST): X1 becomes it. X4 is scratch.
#define NEXT_EVEN \
	PSHUFD $0xff, X2, X2; \
	MOVO   X1, X4; \
	PSLLDQ $4, X4; \
	PXOR   X4, X1; \
	PSLLDQ $4, X4; \
	PXOR   X4, X1; \
	PSLLDQ $4, X4; \
	PXOR   X4, X1; \
	PXOR   X2, X1

// The odd round key: X3 becomes the next from X3 and SubWord of X1's last word.
#define NEXT_ODD \
	AESKEYGENASSIST $0x00, X1, X4; \
	PSHUFD $0xaa, X4, X2; \
	MOVO   X3, X4; \
	PSLLDQ $4, X4; \
	PXOR   X4, X3; \
	PSLLDQ $4, X4; \
	PXOR   X4, X3; \
	PSLLDQ $4, X4; \
	PXOR   X4, X3; \
	PXOR   X2, X3

// Stores round key R (in register K) as decryption key 14-R, through AESIMC.
#define STORE_IMC(K, off) \
	AESIMC K, X5; \
	MOVOU  X5, off(BX)

// func expandDecKeys256(key *[32]byte, dec *[15 * 16]byte)
TEXT ·expandDecKeys256(SB), NOSPLIT, $0-16
	MOVQ  key+0(FP), AX
	MOVQ  dec+8(FP), BX
	MOVOU 0(AX), X1
	MOVOU 16(AX), X3
	MOVOU X1, 224(BX) // round key 0 is the last decryption key, as it is
	STORE_IMC(X3, 208)

	AESKEYGENASSIST $0x01, X3, X2
	NEXT_EVEN
	STORE_IMC(X1, 192)
	NEXT_ODD
	STORE_IMC(X3, 176)

	AESKEYGENASSIST $0x02, X3, X2
	NEXT_EVEN
	STORE_IMC(X1, 160)
	NEXT_ODD
	STORE_IMC(X3, 144)

	AESKEYGENASSIST $0x04, X3, X2
	NEXT_EVEN
	STORE_IMC(X1, 128)
	NEXT_ODD
	STORE_IMC(X3, 112)

	AESKEYGENASSIST $0x08, X3, X2
	NEXT_EVEN
	STORE_IMC(X1, 96)
	NEXT_ODD
	STORE_IMC(X3, 80)

	AESKEYGENASSIST $0x10, X3, X2
	NEXT_EVEN
	STORE_IMC(X1, 64)
	NEXT_ODD
	STORE_IMC(X3, 48)

	AESKEYGENASSIST $0x20, X3, X2
	NEXT_EVEN
	STORE_IMC(X1, 32)
	NEXT_ODD
	STORE_IMC(X3, 16)

	AESKEYGENASSIST $0x40, X3, X2
	NEXT_EVEN
	MOVOU X1, 0(BX) // round key 14 is the first decryption key, as it is
	RET

// One decryption round over the eight blocks in X0-X7, with the key at off(AX).
#define ROUND8(off) \
	MOVOU  off(AX), X8; \
	AESDEC X8, X0; \
	AESDEC X8, X1; \
	AESDEC X8, X2; \
	AESDEC X8, X3; \
	AESDEC X8, X4; \
	AESDEC X8, X5; \
	AESDEC X8, X6; \
	AESDEC X8, X7

#define ROUND1(off) \
	MOVOU  off(AX), X8; \
	AESDEC X8, X0

// func cbcDecryptAESNI(dec *[15 * 16]byte, iv *[16]byte, buf *byte, n int)
//
// Decrypts n bytes (whole blocks) at buf in place. CBC decryption has no chain between
// blocks' AES work, so eight go through the rounds together and the AES unit's pipeline
// stays full; the chain is the XOR with the ciphertext before, read before anything of
// the group is stored. X15 is left alone (Go's ABI keeps zero in it).
TEXT ·cbcDecryptAESNI(SB), NOSPLIT, $0-32
	MOVQ  dec+0(FP), AX
	MOVQ  iv+8(FP), BX
	MOVQ  buf+16(FP), SI
	MOVQ  n+24(FP), CX
	MOVOU (BX), X9 // the ciphertext block before the next one: the IV first

eight:
	CMPQ  CX, $128
	JB    one
	MOVOU 0(SI), X0
	MOVOU 16(SI), X1
	MOVOU 32(SI), X2
	MOVOU 48(SI), X3
	MOVOU 64(SI), X4
	MOVOU 80(SI), X5
	MOVOU 96(SI), X6
	MOVOU 112(SI), X7
	MOVOU 0(AX), X8
	PXOR  X8, X0
	PXOR  X8, X1
	PXOR  X8, X2
	PXOR  X8, X3
	PXOR  X8, X4
	PXOR  X8, X5
	PXOR  X8, X6
	PXOR  X8, X7
	ROUND8(16)
	ROUND8(32)
	ROUND8(48)
	ROUND8(64)
	ROUND8(80)
	ROUND8(96)
	ROUND8(112)
	ROUND8(128)
	ROUND8(144)
	ROUND8(160)
	ROUND8(176)
	ROUND8(192)
	ROUND8(208)
	MOVOU 224(AX), X8
	AESDECLAST X8, X0
	AESDECLAST X8, X1
	AESDECLAST X8, X2
	AESDECLAST X8, X3
	AESDECLAST X8, X4
	AESDECLAST X8, X5
	AESDECLAST X8, X6
	AESDECLAST X8, X7
	PXOR  X9, X0
	MOVOU 0(SI), X10
	PXOR  X10, X1
	MOVOU 16(SI), X10
	PXOR  X10, X2
	MOVOU 32(SI), X10
	PXOR  X10, X3
	MOVOU 48(SI), X10
	PXOR  X10, X4
	MOVOU 64(SI), X10
	PXOR  X10, X5
	MOVOU 80(SI), X10
	PXOR  X10, X6
	MOVOU 96(SI), X10
	PXOR  X10, X7
	MOVOU 112(SI), X9 // the next group's chain, before the stores overwrite it
	MOVOU X0, 0(SI)
	MOVOU X1, 16(SI)
	MOVOU X2, 32(SI)
	MOVOU X3, 48(SI)
	MOVOU X4, 64(SI)
	MOVOU X5, 80(SI)
	MOVOU X6, 96(SI)
	MOVOU X7, 112(SI)
	ADDQ  $128, SI
	SUBQ  $128, CX
	JMP   eight

one:
	CMPQ  CX, $16
	JB    done
	MOVOU 0(SI), X0
	MOVO  X0, X10
	MOVOU 0(AX), X8
	PXOR  X8, X0
	ROUND1(16)
	ROUND1(32)
	ROUND1(48)
	ROUND1(64)
	ROUND1(80)
	ROUND1(96)
	ROUND1(112)
	ROUND1(128)
	ROUND1(144)
	ROUND1(160)
	ROUND1(176)
	ROUND1(192)
	ROUND1(208)
	MOVOU 224(AX), X8
	AESDECLAST X8, X0
	PXOR  X9, X0
	MOVO  X10, X9
	MOVOU X0, 0(SI)
	ADDQ  $16, SI
	SUBQ  $16, CX
	JMP   one

done:
	RET

// func expandEncKeys256(key *[32]byte, enc *[15 * 16]byte)
//
// The encryption schedule: round key R at 16*R, as AESENC takes it.
TEXT ·expandEncKeys256(SB), NOSPLIT, $0-16
	MOVQ  key+0(FP), AX
	MOVQ  enc+8(FP), BX
	MOVOU 0(AX), X1
	MOVOU 16(AX), X3
	MOVOU X1, 0(BX)
	MOVOU X3, 16(BX)

	AESKEYGENASSIST $0x01, X3, X2
	NEXT_EVEN
	MOVOU X1, 32(BX)
	NEXT_ODD
	MOVOU X3, 48(BX)

	AESKEYGENASSIST $0x02, X3, X2
	NEXT_EVEN
	MOVOU X1, 64(BX)
	NEXT_ODD
	MOVOU X3, 80(BX)

	AESKEYGENASSIST $0x04, X3, X2
	NEXT_EVEN
	MOVOU X1, 96(BX)
	NEXT_ODD
	MOVOU X3, 112(BX)

	AESKEYGENASSIST $0x08, X3, X2
	NEXT_EVEN
	MOVOU X1, 128(BX)
	NEXT_ODD
	MOVOU X3, 144(BX)

	AESKEYGENASSIST $0x10, X3, X2
	NEXT_EVEN
	MOVOU X1, 160(BX)
	NEXT_ODD
	MOVOU X3, 176(BX)

	AESKEYGENASSIST $0x20, X3, X2
	NEXT_EVEN
	MOVOU X1, 192(BX)
	NEXT_ODD
	MOVOU X3, 208(BX)

	AESKEYGENASSIST $0x40, X3, X2
	NEXT_EVEN
	MOVOU X1, 224(BX)
	RET

// func cbcEncryptAESNI(enc *[15 * 16]byte, iv *[16]byte, buf *byte, n int)
//
// Encrypts n bytes (whole blocks) at buf in place. CBC encryption is a chain (each
// block's input is the ciphertext before), so it goes block by block; what this saves
// over crypto/cipher's block-by-block loop is the calls and the key loads: thirteen round
// keys stay in X1-X13, and the next plaintext is XORed with the first off the chain's
// path. X15 is left alone (Go's ABI keeps zero in it).
TEXT ·cbcEncryptAESNI(SB), NOSPLIT, $0-32
	MOVQ  enc+0(FP), AX
	MOVQ  iv+8(FP), BX
	MOVQ  buf+16(FP), SI
	MOVQ  n+24(FP), CX
	MOVOU (BX), X0 // the chain: the IV first
	MOVOU 0(AX), X1
	MOVOU 16(AX), X2
	MOVOU 32(AX), X3
	MOVOU 48(AX), X4
	MOVOU 64(AX), X5
	MOVOU 80(AX), X6
	MOVOU 96(AX), X7
	MOVOU 112(AX), X8
	MOVOU 128(AX), X9
	MOVOU 144(AX), X10
	MOVOU 160(AX), X11
	MOVOU 176(AX), X12
	MOVOU 192(AX), X13

block:
	CMPQ   CX, $16
	JB     end
	MOVOU  0(SI), X14
	PXOR   X1, X14
	PXOR   X14, X0
	AESENC X2, X0
	AESENC X3, X0
	AESENC X4, X0
	AESENC X5, X0
	AESENC X6, X0
	AESENC X7, X0
	AESENC X8, X0
	AESENC X9, X0
	AESENC X10, X0
	AESENC X11, X0
	AESENC X12, X0
	AESENC X13, X0
	MOVOU  208(AX), X14
	AESENC X14, X0
	MOVOU  224(AX), X14
	AESENCLAST X14, X0
	MOVOU  X0, 0(SI)
	ADDQ   $16, SI
	SUBQ   $16, CX
	JMP    block

end:
	RET
