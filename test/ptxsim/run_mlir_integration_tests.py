#!/usr/bin/env python3
"""TEST ONLY: runs MLIR's CUDA integration tests on ptxsim.

    run_mlir_integration_tests.py --build BUILD TEST.mlir|DIR ...

LLVM's mlir/test/Integration/GPU/CUDA tests are programs whose expected
output was written for real GPUs (sm90/: TMA loads with and without
swizzle, wgmma GEMMs with mbarrier pipelines). Run here through
mlir-runner, with libmbc_mlir_gpu_runtime.so standing in for MLIR's CUDA
runtime and the fake CUDA driver in simulate mode, they check ptxsim's
semantics with programs and expectations that mbc did not write. Each
test's RUN lines are run as written, with lit's substitutions for them:
%s, %mlir_cuda_runtime (this runtime), %mlir_runner_utils,
%mlir_c_runner_utils, %gpu_compilation_format (isa: PTX, which ptxsim
runs; gpu-lower-to-nvvm-pipeline gets cubin-format=isa where it names
none). Prints a line per test and `N passed, N failed, N unsupported`;
exits 1 when a test failed. A test that needs what ptxsim lacks (cluster
launches, printf from a kernel) fails with that message, unless
--unsupported lists it.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile


def run_lines(path):
    """The test's RUN commands, continuation lines joined."""
    commands, current = [], ''
    with open(path, encoding='utf-8') as source:
        for line in source:
            match = re.match(r'\s*//\s*RUN:(.*)$', line)
            if not match:
                continue
            text = match.group(1).rstrip()
            if text.endswith('\\'):
                current += text[:-1] + ' '
                continue
            commands.append((current + text).strip())
            current = ''
    if current:
        commands.append(current.strip())
    return commands


def substitute(command, path, tools, libraries, temporary):
    command = command.replace('%s', path).replace('%t', temporary)
    for name, library in libraries.items():
        command = command.replace('%' + name, library)
    command = command.replace('%gpu_compilation_format', 'isa')

    def with_isa(match):
        options = match.group(2)
        if 'cubin-format' not in options:
            options = (options + ' cubin-format=isa').strip()
        return match.group(1) + options + match.group(3)

    command = re.sub(r'(-gpu-lower-to-nvvm-pipeline=")([^"]*)(")', with_isa,
                     command)
    # Older tests name the runner and the lowering pipeline by their old
    # names.
    command = re.sub(r'\bmlir-cpu-runner\b', 'mlir-runner', command)
    command = command.replace('-test-lower-to-nvvm=',
                              '-gpu-lower-to-nvvm-pipeline=')
    command = re.sub(r'(?<![\w/-])(mlir-opt|mlir-runner|FileCheck)(?![\w-])',
                     lambda m: tools[m.group(1)], command)
    return command


def runner_libraries(build, llvm_bin):
    """The shared libraries of mlir-runner programs on ptxsim, by the names
    of MLIR's lit substitutions: mbc's stand-in for MLIR's CUDA runtime and
    LLVM's runner utilities (test/lit.cfg.py uses them too)."""
    llvm_lib = os.path.join(os.path.dirname(llvm_bin), 'lib')
    return {
        'mlir_cuda_runtime': os.path.join(build, 'test', 'ptxsim',
                                          'libmbc_mlir_gpu_runtime.so'),
        'mlir_runner_utils': os.path.join(llvm_lib, 'libmlir_runner_utils.so'),
        'mlir_c_runner_utils': os.path.join(llvm_lib,
                                            'libmlir_c_runner_utils.so'),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--build', required=True, help="mbc's build folder")
    parser.add_argument('--llvm-bin', default='/usr/lib/llvm-22/bin')
    parser.add_argument('--unsupported', action='append', default=[],
                        help='NAME=why: report the test as unsupported')
    parser.add_argument('--timeout', type=int, default=600)
    parser.add_argument('tests', nargs='+')
    args = parser.parse_args()

    libraries = runner_libraries(args.build, args.llvm_bin)
    tools = {name: os.path.join(args.llvm_bin, name)
             for name in ('mlir-opt', 'mlir-runner', 'FileCheck')}
    environment = dict(os.environ,
                       MBRT_CUDA_DRIVER=os.path.join(
                           args.build, 'test', 'runtime',
                           'fake_cuda_driver.so'),
                       MBRT_FAKE_CUDA_MODE='simulate',
                       MBRT_FAKE_CUDA_ARCH='90')
    unsupported = dict(item.split('=', 1) for item in args.unsupported)

    paths = []
    for test in args.tests:
        if os.path.isdir(test):
            for folder, _, names in sorted(os.walk(test)):
                paths += [os.path.join(folder, name) for name in sorted(names)
                          if name.endswith('.mlir')]
        else:
            paths.append(test)

    counts = {'passed': 0, 'failed': 0, 'unsupported': 0}
    for path in paths:
        name = os.path.basename(path)
        commands = run_lines(path)
        if name in unsupported or not commands:
            why = unsupported.get(name, 'no RUN lines')
            print(f'UNSUPPORTED {path}: {why}')
            counts['unsupported'] += 1
            continue
        with tempfile.TemporaryDirectory() as folder:
            problem = None
            for command in commands:
                shell = substitute(command, path, tools, libraries,
                                   os.path.join(folder, 't'))
                try:
                    result = subprocess.run(
                        ['bash', '-o', 'pipefail', '-c', shell],
                        env=environment, capture_output=True, text=True,
                        timeout=args.timeout, cwd=folder)
                except subprocess.TimeoutExpired:
                    problem = f'timed out after {args.timeout} s'
                    break
                if result.returncode != 0:
                    lines = (result.stderr or result.stdout).strip()
                    problem = '\n    '.join(lines.splitlines()[:12])
                    break
        if problem:
            print(f'FAIL {path}\n    {problem}')
            counts['failed'] += 1
        else:
            print(f'PASS {path}')
            counts['passed'] += 1
    print(f"{counts['passed']} passed, {counts['failed']} failed, "
          f"{counts['unsupported']} unsupported")
    return 1 if counts['failed'] else 0


if __name__ == '__main__':
    sys.exit(main())
