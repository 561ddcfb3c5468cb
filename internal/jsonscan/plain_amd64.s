//go:build amd64 && !purego

#include "textflag.h"

// func plainRunAVX2(p *byte, n int) int
//
// The number of bytes from p that are plain (not a quote, a backslash, a control byte
// or a byte at or above 0x80), counted 32 at a time: it stops at the first byte that is
// not, or at the last whole group of 32 within n.
TEXT ·plainRunAVX2(SB), NOSPLIT, $0-24
	MOVQ p+0(FP), SI
	MOVQ n+8(FP), CX
	XORQ AX, AX
	SUBQ $32, CX
	JL   out

	MOVQ $0x2222222222222222, DX
	MOVQ DX, X13
	VPBROADCASTQ X13, Y13 // '"'
	MOVQ $0x5c5c5c5c5c5c5c5c, DX
	MOVQ DX, X14
	VPBROADCASTQ X14, Y14 // '\\'
	MOVQ $0x1f1f1f1f1f1f1f1f, DX
	MOVQ DX, X15
	VPBROADCASTQ X15, Y15 // the last control byte

loop:
	VMOVDQU  (SI)(AX*1), Y0
	VPCMPEQB Y13, Y0, Y1
	VPCMPEQB Y14, Y0, Y2
	VPMINUB  Y15, Y0, Y3
	VPCMPEQB Y3, Y0, Y3 // min(c, 0x1f) == c: a control byte
	VPOR     Y1, Y2, Y1
	VPOR     Y3, Y1, Y1
	VPOR     Y0, Y1, Y1 // and the high bit of c itself
	VPMOVMSKB Y1, DX
	TESTL    DX, DX
	JNZ      found
	ADDQ     $32, AX
	CMPQ     AX, CX
	JLE      loop
	VZEROUPPER
	MOVQ AX, ret+16(FP)
	RET

found:
	VZEROUPPER
	BSFL DX, DX
	ADDQ DX, AX

out:
	MOVQ AX, ret+16(FP)
	RET
