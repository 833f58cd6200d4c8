//===- MBOps.td - operations of the mb dialect --------------*- tablegen -*-===//

#ifndef MB_OPS_TD
#define MB_OPS_TD

include "dialects/MB/MBDialect.td"
include "mlir/IR/OpBase.td"
include "mlir/Interfaces/ControlFlowInterfaces.td"
include "mlir/Interfaces/InferTypeOpInterface.td"
include "mlir/Interfaces/SideEffectInterfaces.td"

// Activations and weights are statically shaped float tensors; token ids are
// integer tensors.
def MB_FloatTensor : StaticShapeTensorOf<[AnyFloat]>;
def MB_IdTensor : StaticShapeTensorOf<[AnySignlessInteger]>;
def MB_PositiveI64 : ConfinedAttr<I64Attr, [IntPositive]>;

//===----------------------------------------------------------------------===//
// Weights and embeddings
//===----------------------------------------------------------------------===//

def MB_ParamOp : MB_Op<"param", [Pure]> {
  let summary = "a named weight tensor of the model";
  let description = [{
    Refers to the tensor `name` of the model's weights (by default the
    safetensors file the model was imported from). With `value`, the weight is
    inlined into the IR (`mbc --inline-weights`); its type must then equal the
    result type.

    ```mlir
    %w = mb.param "to_logits.weight" : tensor<256x64xf32>
    ```
  }];
  let arguments = (ins StrAttr:$name, OptionalAttr<ElementsAttr>:$value);
  let results = (outs MB_FloatTensor:$result);
  let assemblyFormat = "$name (`=` $value^)? attr-dict `:` type($result)";
  let hasVerifier = 1;
}

def MB_EmbeddingOp : MB_Op<"embedding", [Pure]> {
  let summary = "byte embedding: gathers rows of a table";
  let description = [{
    `result[i..., :] = table[ids[i...], :]`. The table is `[V, D]`; the result
    has the shape of `ids` with D appended. Ids outside `[0, V)` are rejected
    by the runtime before any embedding runs.

    ```mlir
    %e = mb.embedding %table[%ids]
        : tensor<256x32xf32>, tensor<1x64xi32> -> tensor<1x64x32xf32>
    ```
  }];
  let arguments = (ins MB_FloatTensor:$table, MB_IdTensor:$ids);
  let results = (outs MB_FloatTensor:$result);
  let assemblyFormat = [{
    $table `[` $ids `]` attr-dict `:` type($table) `,` type($ids) `->`
    type($result)
  }];
  let hasVerifier = 1;
}

def MB_PositionEmbeddingOp : MB_Op<"position_embedding", [Pure]> {
  let summary = "adds a learned absolute position embedding";
  let description = [{
    `result[n, s, :] = input[n, s, :] + table[offset + s, :]` for an input
    `[N, S, D]` and a table `[L, D]` with `L >= S` (the table may be longer
    than the sequence it is applied to). `offset` (default 0) is the position
    of the first row, used by the decode entry points; the caller keeps
    `offset + S <= L`.
  }];
  let arguments = (ins MB_FloatTensor:$input, MB_FloatTensor:$table,
                       Optional<Index>:$offset);
  let results = (outs MB_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $table (`offset` $offset^)? attr-dict `:` type($input) `,`
    type($table) `->` type($result)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Patches and stage boundaries
//===----------------------------------------------------------------------===//

def MB_PatchifyOp : MB_Op<"patchify", [Pure]> {
  let summary = "groups consecutive positions into patches";
  let description = [{
    Concatenates `patch_size` consecutive positions of `input` `[N, L, E]`
    into one position of width `patch_size * E`: the result is
    `[N, L / patch_size, patch_size * E]`.

    With a `shift` operand (the paper's one-patch shift, a learned pad patch
    of width `patch_size * E`) the result is moved one patch later:
    position 0 is `shift`, position k >= 1 holds the bytes of patch k - 1, and
    the last patch's bytes are dropped.

    Without it (MEGABYTE-pytorch) the result is the plain regrouping; that
    form is followed by the dual patch norm (`mb.layer_norm`, `mb.linear`,
    `mb.layer_norm`) and `mb.start_token`.

    ```mlir
    %g = mb.patchify %e shift %pad {patch_size = 4 : i64}
        : tensor<1x64x16xf32>, tensor<64xf32> -> tensor<1x16x64xf32>
    ```
  }];
  let arguments = (ins MB_FloatTensor:$input, Optional<MB_FloatTensor>:$shift,
                       MB_PositiveI64:$patch_size);
  let results = (outs MB_FloatTensor:$result);
  let assemblyFormat = [{
    $input (`shift` $shift^)? attr-dict `:` type($input) (`,` type($shift)^)?
    `->` type($result)
  }];
  let hasVerifier = 1;
}

def MB_StartTokenOp : MB_Op<"start_token", [Pure]> {
  let summary = "prepends a learned start token to every sequence";
  let description = [{
    MEGABYTE-pytorch's stage input: `[N, S, D]` becomes `[N, S + 1, D]` with
    `start` (`[D]`) at position 0 of every sequence.
  }];
  let arguments = (ins MB_FloatTensor:$input, MB_FloatTensor:$start);
  let results = (outs MB_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $start attr-dict `:` type($input) `,` type($start) `->`
    type($result)
  }];
  let hasVerifier = 1;
}

def MB_GlobalToLocalOp : MB_Op<"global_to_local", [Pure]> {
  let summary = "projects a coarser stage's output to a finer stage's input";
  let description = [{
    Turns each position of the coarser stage's output into one sequence of the
    finer stage. `patch_size` is the finer stage's sequence length P.

    `shared` (the paper): `input` is `[N, S, P * C]`, `weight` is `[D, C]`
    (one matrix shared by all P positions, no bias); the result is
    `[N * S, P, D]` with
    `result[n * S + s, p] = weight * input[n, s, p * C : (p + 1) * C]`.

    `dense` (MEGABYTE-pytorch): `input` is `[N, S + 1, C]` (it has a start
    token), `weight` is `[P * D, C]`, `bias` is `[P * D]`. The last position
    is dropped, each remaining one is projected to P vectors of width D, and
    one zero vector is prepended (the finer stage's start token position):
    the result is `[N * S, P + 1, D]`.
  }];
  let arguments = (ins MB_FloatTensor:$input, MB_FloatTensor:$weight,
                       Optional<MB_FloatTensor>:$bias,
                       MB_ProjectionModeAttr:$mode,
                       MB_PositiveI64:$patch_size);
  let results = (outs MB_FloatTensor:$result);
  let assemblyFormat = [{
    $mode $input `,` $weight (`,` $bias^)? attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def MB_MergePatchesOp : MB_Op<"merge_patches", [Pure]> {
  let summary = "reorders the finest stage's rows into per-byte predictions";
  let description = [{
    Input `[N, P', V]`, the finest stage's output for N = B * K sequences;
    result `[B, T, V]` where row t holds the prediction for byte t.

    `shifted` (the paper): `P' = P`, `T = K * P`, a plain reshape.

    `start_token` (MEGABYTE-pytorch): `P' = P + 1`. Row 0 comes from position
    0 of the first sequence of each batch entry; row t >= 1 from position
    `((t - 1) mod P) + 1` of sequence `(t - 1) / P`; `T = K * P`, so the
    prediction made after the last byte is dropped.
  }];
  let arguments = (ins MB_FloatTensor:$input, MB_AlignmentAttr:$alignment);
  let results = (outs MB_FloatTensor:$result);
  let assemblyFormat = [{
    $alignment $input attr-dict `:` type($input) `->` type($result)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Transformer building blocks
//===----------------------------------------------------------------------===//

def MB_LayerNormOp : MB_Op<"layer_norm", [Pure]> {
  let summary = "layer normalization over the last dimension";
  let description = [{
    `(x - mean(x)) / sqrt(var(x) + epsilon) * weight + bias` over the last
    dimension D (biased variance); `weight` and `bias` are `[D]`.
  }];
  let arguments = (ins MB_FloatTensor:$input, MB_FloatTensor:$weight,
                       MB_FloatTensor:$bias, F64Attr:$epsilon);
  let results = (outs MB_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $weight `,` $bias attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def MB_RMSNormOp : MB_Op<"rms_norm", [Pure]> {
  let summary = "RMS normalization over the last dimension";
  let description = [{
    Without `clamp`: `x / sqrt(mean(x^2) + epsilon) * weight`.

    With `clamp` (MEGABYTE-pytorch's RMSNorm): the epsilon clamps the norm
    instead of being added inside the root,
    `x / max(||x||_2 * D^-1/2, epsilon) * weight`.
  }];
  let arguments = (ins MB_FloatTensor:$input, MB_FloatTensor:$weight,
                       F64Attr:$epsilon, UnitAttr:$clamp);
  let results = (outs MB_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $weight attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def MB_LinearOp : MB_Op<"linear", [Pure]> {
  let summary = "dense projection of the last dimension";
  let description = [{
    `result[..., o] = sum_i input[..., i] * weight[o, i] + bias[o]` with
    `weight` `[Out, In]` (PyTorch's layout) and an optional `bias` `[Out]`.
  }];
  let arguments = (ins MB_FloatTensor:$input, MB_FloatTensor:$weight,
                       Optional<MB_FloatTensor>:$bias);
  let results = (outs MB_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $weight (`,` $bias^)? attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

def MB_TokenShiftOp : MB_Op<"token_shift", [Pure, SameOperandsAndResultType]> {
  let summary = "shifts half of the features one position later";
  let description = [{
    MEGABYTE-pytorch's token shift (from RWKV) on `[N, S, D]`: the first
    `ceil(D / 2)` features stay, the remaining `floor(D / 2)` move one position
    later along S (zeros at position 0, the last position's values dropped).
  }];
  let arguments = (ins MB_FloatTensor:$input);
  let results = (outs MB_FloatTensor:$result);
  let assemblyFormat = "$input attr-dict `:` type($result)";
  let hasVerifier = 1;
}

def MB_FFNOp : MB_Op<"ffn", [Pure]> {
  let summary = "feed-forward block: up projection, activation, down projection";
  let description = [{
    `down(act(up(x)))` with `up_weight` `[H, D]`, `up_bias` `[H]`,
    `down_weight` `[D, H]`, `down_bias` `[D]` on an input `[..., D]`.
    `gelu` is the exact (erf) GELU, `gelu_tanh` its tanh approximation.
    The block's norm and residual are separate ops.
  }];
  let arguments = (ins MB_FloatTensor:$input, MB_FloatTensor:$up_weight,
                       MB_FloatTensor:$up_bias, MB_FloatTensor:$down_weight,
                       MB_FloatTensor:$down_bias,
                       MB_ActivationAttr:$activation);
  let results = (outs MB_FloatTensor:$result);
  let assemblyFormat = [{
    $activation $input `,` $up_weight `,` $up_bias `,` $down_weight `,`
    $down_bias attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

class MB_AttentionOp<string mnemonic, string which> : MB_Op<mnemonic, [Pure]> {
  let summary = "causal multi-head self-attention of the " # which # " model";
  let description = [{
    Causal multi-head self-attention with its projections, on an input
    `[N, S, D]` that is already normalized: `q = x wq^T`, `k = x wk^T`,
    `v = x wv^T` (weights `[heads * head_dim, D]`, no bias), split into
    `heads` heads of `head_dim`, `softmax(q k^T * scale + causal mask) v`,
    heads concatenated and projected by `wo` (`[D, heads * head_dim]`).
    `scale` defaults to `head_dim^-0.5`. With `rotary_theta`, rotary position
    embedding (NeoX rotate-half over the full head dim, positions 0..S-1) is
    applied to q and k.
  }] # !if(!eq(which, "global"), [{

    The global model runs once per patch: N is the batch, S the number of
    patches (plus a start token for MEGABYTE-pytorch).
  }], [{

    The local model runs once per byte: N is batch x patches, each sequence
    is one patch (S = P, or P + 1 with a start token). Sequences never see
    each other, which is what lets a kernel pack several patches per tile.
  }]);
  let arguments = (ins MB_FloatTensor:$input, MB_FloatTensor:$wq,
                       MB_FloatTensor:$wk, MB_FloatTensor:$wv,
                       MB_FloatTensor:$wo, MB_PositiveI64:$heads,
                       MB_PositiveI64:$head_dim,
                       OptionalAttr<F64Attr>:$rotary_theta,
                       OptionalAttr<F64Attr>:$scale);
  let results = (outs MB_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $wq `,` $wk `,` $wv `,` $wo attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// The softmax scale: `scale` if set, else head_dim^-0.5.
    double getSoftmaxScale();
  }];
}

def MB_GlobalAttentionOp : MB_AttentionOp<"global_attention", "global">;
def MB_LocalAttentionOp : MB_AttentionOp<"local_attention", "local">;

def MB_HeadOp : MB_Op<"head", [Pure]> {
  let summary = "output head: log-probabilities over the vocabulary";
  let description = [{
    `log_softmax(x weight^T + bias)` over the last dimension, with `weight`
    `[V, D]` and an optional `bias` `[V]`. `tied` records that `weight` is the
    last stage's byte embedding (the paper's tied head); it changes nothing
    in the arithmetic. The result holds log p, which sampling uses directly
    (temperature, top-k, top-p and Gumbel sampling are shift invariant).
  }];
  let arguments = (ins MB_FloatTensor:$input, MB_FloatTensor:$weight,
                       Optional<MB_FloatTensor>:$bias, UnitAttr:$tied);
  let results = (outs MB_FloatTensor:$result);
  let assemblyFormat = [{
    $input `,` $weight (`,` $bias^)? attr-dict `:`
    functional-type(operands, results)
  }];
  let hasVerifier = 1;
}

//===----------------------------------------------------------------------===//
// Decode (one position at a time, with caches)
//===----------------------------------------------------------------------===//

def MB_TokenShiftStepOp : MB_Op<"token_shift_step", [Pure, SameOperandsAndResultType]> {
  let summary = "token shift of one new position given the previous one";
  let description = [{
    The decode form of `mb.token_shift` for one position `[N, 1, D]`: the
    first `ceil(D / 2)` features come from `input`, the rest from `previous`
    (the previous position's input; zeros at position 0).
  }];
  let arguments = (ins MB_FloatTensor:$input, MB_FloatTensor:$previous);
  let results = (outs MB_FloatTensor:$result);
  let assemblyFormat = "$input `,` $previous attr-dict `:` type($result)";
  let hasVerifier = 1;
}

def MB_CachedAttentionOp : MB_Op<"cached_attention", [Pure]> {
  let summary = "causal self-attention of one new position against a KV cache";
  let description = [{
    The decode form of `mb.global_attention` / `mb.local_attention` for one
    new position at `position` of each of N sequences: `input` `[N, 1, D]`
    (normalized), the same projection weights, and caches `[N, L, heads *
    head_dim]` holding the keys and values of positions `0..position-1`.
    Returns the attention output `[N, 1, D]` and the caches with this
    position's key and value written at row `position`; rows after it are
    ignored. Rotary embedding, when set, uses `position`. The caller keeps
    `position < L`.
  }];
  let arguments = (ins MB_FloatTensor:$input, MB_FloatTensor:$wq,
                       MB_FloatTensor:$wk, MB_FloatTensor:$wv,
                       MB_FloatTensor:$wo, MB_FloatTensor:$k_cache,
                       MB_FloatTensor:$v_cache, Index:$position,
                       MB_PositiveI64:$heads, MB_PositiveI64:$head_dim,
                       OptionalAttr<F64Attr>:$rotary_theta,
                       OptionalAttr<F64Attr>:$scale);
  let results = (outs MB_FloatTensor:$result, MB_FloatTensor:$new_k_cache,
                      MB_FloatTensor:$new_v_cache);
  let assemblyFormat = [{
    $input `,` $wq `,` $wk `,` $wv `,` $wo `,` $k_cache `,` $v_cache `at`
    $position attr-dict `:` functional-type(operands, results)
  }];
  let hasVerifier = 1;
  let extraClassDeclaration = [{
    /// The softmax scale: `scale` if set, else head_dim^-0.5.
    double getSoftmaxScale();
  }];
}

//===----------------------------------------------------------------------===//
// Fusion regions
//===----------------------------------------------------------------------===//

def MB_SequenceTilesOp : MB_Op<"sequence_tiles", [
    RecursiveMemoryEffects, SingleBlockImplicitTerminator<"YieldOp">]> {
  let summary = "ops applied to tiles of independent sequences, one tile at a time";
  let description = [{
    The body computes, for one tile of `tile` sequences, what the ops in it
    compute for all N: every input and result is `[N, ...]` with the same
    N (a multiple of `tile`), the body's arguments are the inputs' tiles
    `[tile, ...]` and it yields the results' tiles. The sequences of a tile
    do not depend on other tiles (the local model: K patches of P bytes),
    so tiles may run in parallel and each tile's activations can stay in
    cache (CPU) or on chip (GPU) across the whole body. Values defined above
    (weights) are used whole.

    ```mlir
    %r = mb.sequence_tiles(%x) tile 8 : (tensor<128x9x128xf32>) -> tensor<128x9x256xf32> {
    ^bb0(%t: tensor<8x9x128xf32>):
      ...
      mb.yield %h : tensor<8x9x256xf32>
    }
    ```
  }];
  let arguments = (ins Variadic<MB_FloatTensor>:$inputs, MB_PositiveI64:$tile);
  let results = (outs Variadic<MB_FloatTensor>:$results);
  let regions = (region SizedRegion<1>:$body);
  let assemblyFormat = [{
    `(` $inputs `)` `tile` $tile attr-dict `:` functional-type($inputs, $results)
    $body
  }];
  let hasVerifier = 1;
  let hasRegionVerifier = 1;
  let extraClassDeclaration = [{
    /// `type` ([N, ...]) with its leading (sequences) dimension set to
    /// `tile`: the type of one tile of it.
    static ::mlir::RankedTensorType getTileType(::mlir::Type type,
                                                int64_t tile);
  }];
}

def MB_YieldOp : MB_Op<"yield", [Pure, Terminator, ReturnLike,
                                 HasParent<"SequenceTilesOp">]> {
  let summary = "the tiles a mb.sequence_tiles body produces";
  let arguments = (ins Variadic<MB_FloatTensor>:$values);
  let assemblyFormat = "$values attr-dict `:` type($values)";
  let builders = [OpBuilder<(ins), [{ build($_builder, $_state, ValueRange()); }]>];
}

#endif // MB_OPS_TD
