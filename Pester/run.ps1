<#
.SYNOPSIS
    Runs the Pester suite for bootstrap.ps1 (Pester 5 or 6), skipping Windows-only tests elsewhere.
.DESCRIPTION
    With -CI the process exits 0 only when every discovered test passed (skips aside), no container or block
    failed, and at least one test ran; otherwise it exits 1. The last line is "N passed, N failed, N skipped".
.EXAMPLE
    pwsh -NoProfile -File Pester/run.ps1 -CI -PesterModule .ci-tools/nuget/pester/5.7.1/tools/Pester.psd1
#>
[CmdletBinding()]
param(
    # Write an NUnit XML result file and exit non-zero unless everything passed.
    [switch] $CI,
    # Where the result file goes (with -CI).
    [string] $ResultPath = (Join-Path -Path ([System.IO.Path]::GetTempPath()) -ChildPath 'pybootstrap-pester-results.xml'),
    # None, Normal, Detailed or Diagnostic.
    [string] $Verbosity = 'Normal',
    # A Pester.psd1 to import (for example from a NuGet package's tools folder); default: Pester 5.3+ from PSModulePath.
    [string] $PesterModule = '',
    # Only the test files whose names match this wildcard (default: all).
    [string] $Filter = '*.Tests.ps1'
)

$onWindows = [System.Environment]::OSVersion.Platform -eq [System.PlatformID]::Win32NT
if ($PesterModule) {
    Import-Module -Name (Resolve-Path -LiteralPath $PesterModule -ErrorAction Stop).ProviderPath -Force -ErrorAction Stop
} else {
    Import-Module -Name Pester -MinimumVersion 5.3.0 -ErrorAction Stop
}

$configuration = New-PesterConfiguration
$configuration.Run.Path = @(Get-ChildItem -Path $PSScriptRoot -Filter $Filter | ForEach-Object { $_.FullName })
$configuration.Run.PassThru = $true
$configuration.Output.Verbosity = $Verbosity
$configuration.TestResult.Enabled = [bool]$CI
$configuration.TestResult.OutputPath = $ResultPath
if (-not $onWindows) {
    Write-Warning 'Not on Windows: tests tagged Windows are skipped.'
    $configuration.Filter.ExcludeTag = @('Windows')
}
$result = Invoke-Pester -Configuration $configuration

$broken = @($result.Containers | Where-Object { $_.Result -ne 'Passed' -and $_.Result -ne 'Skipped' })
$failed = $result.FailedCount + $result.FailedBlocksCount + $result.FailedContainersCount
Write-Output ('{0} passed, {1} failed, {2} skipped' -f $result.PassedCount, $failed, $result.SkippedCount)
if ($CI) {
    if ($failed -gt 0 -or $broken.Count -gt 0) {
        foreach ($container in $broken) { [Console]::Error.WriteLine("Pester: $($container.Item) did not pass ($($container.Result))") }
        exit 1
    }
    if ($result.PassedCount -eq 0) {
        [Console]::Error.WriteLine('Pester: no test ran')
        exit 1
    }
    exit 0
}
