#!/usr/bin/env bash
# Device call C: language model (issue 13) and batch sweep (issue 11). Not committed.
export PYTHONUNBUFFERED=1
P="python3 -m pytest -p no:cacheprovider --benchmark-only -rs"
set -x
$P benchmarks/test_llm.py benchmarks/test_ceiling.py --bench-size standard --dtype bf16 --devices cpu,cuda --frameworks torch --benchmark-json $OUT/llm_std_bf16.json 2>&1 | grep -v "^test_\|^---\|^Name\|^$" | tail -40
timeout 150 $P benchmarks/test_llm.py benchmarks/test_ceiling.py --bench-size full --dtype bf16 --devices cuda --frameworks torch --benchmark-json $OUT/llm_full_bf16.json 2>&1 | grep -v "^test_\|^---\|^Name\|^$" | tail -25
timeout 60 python3 tools/llm_event_check.py --size standard --dtype bf16 --context 512 --cuda-graph --run $OUT/llm_std_bf16.json 2>&1 | tail -15
timeout 60 python3 tools/llm_event_check.py --size full --dtype bf16 --cuda-graph --run $OUT/llm_full_bf16.json 2>&1 | tail -15
timeout 200 $P benchmarks/test_cnn_torch.py benchmarks/test_resnet18.py --bench-size standard --dtype fp32 --devices cpu,cuda --frameworks torch --sweep batch --benchmark-json $OUT/sweep.json 2>&1 | sed -n '/accelbench summary/,$p' | tail -40
timeout 60 python3 tools/crossover_check.py accelbench.workloads.cnn:SimpleCNN --phase infer --device cuda --size standard --run $OUT/sweep.json 2>&1 | tail -12
timeout 60 python3 tools/crossover_check.py accelbench.workloads.cnn:SimpleCNN --phase train --device cuda --size standard --run $OUT/sweep.json 2>&1 | tail -12
python3 -m accelbench report $OUT/sweep.json --out /tmp/rs >/dev/null && cp /tmp/rs/*batch-speedup*.png $OUT/ 2>/dev/null; ls /tmp/rs
