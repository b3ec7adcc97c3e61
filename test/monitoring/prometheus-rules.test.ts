import assert from 'node:assert/strict';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parse } from 'yaml';
import { requireComponent } from '../../testenv/components.ts';
import { createControlPlanePki } from '../../testenv/pki.ts';
import { promtool } from '../../testenv/prometheus.ts';
import { images } from '../../monitoring/common.ts';
import { parseMonitoringOptions } from '../../monitoring/layer.ts';
import { prometheusYaml, renderPrometheusConfig } from '../../monitoring/prometheus-config.ts';
import { isAlertingRule, renderAlertingRules, renderRecordingRules, renderRuleFiles, ruleFileNames, type RuleFile } from '../../monitoring/prometheus-rules.ts';
import { renderRulesTests, renderRulesTestsYaml, rulesTestFileName } from '../../monitoring/rules-tests.ts';

const serviceAccountDir = '/var/run/secrets/kubernetes.io/serviceaccount';

describe('renderRuleFiles()', () => {
  it('names the recording rules level:metric:operation and labels every alert with a severity', () => {
    for (const rule of renderRecordingRules().rules) {
      assert.ok(!isAlertingRule(rule));
      assert.match(rule.record, /^service:tracelab_http_[a-z_]+:[a-z0-9_]+$/);
    }
    const alerts = renderAlertingRules().rules.filter(isAlertingRule);
    assert.deepEqual(alerts.map((rule) => rule.alert), ['TracelabHighErrorRate', 'TracelabLatencySLOBurn', 'TracelabPodRestarting', 'TracelabNodeDown']);
    for (const alert of alerts) assert.ok(['warning', 'critical'].includes(alert.labels.severity ?? ''), alert.alert);
  });

  it('has a unit test that fires for every alert', () => {
    const tested = new Set(renderRulesTests().tests.flatMap((test) => test.alert_rule_test.filter((check) => check.exp_alerts.length > 0).map((check) => check.alertname)));
    for (const alert of renderAlertingRules().rules.filter(isAlertingRule)) assert.ok(tested.has(alert.alert), `${alert.alert} has a firing test`);
  });
});

describe('promtool (same version as the deployed Prometheus)', () => {
  let dir = '';

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'tracelab-promtool-'));
    mkdirSync(path.join(dir, 'rules'));
    for (const [name, text] of Object.entries(renderRuleFiles())) writeFileSync(path.join(dir, 'rules', name), text);
    writeFileSync(path.join(dir, 'rules', rulesTestFileName), renderRulesTestsYaml());
    // The in-cluster files (service account token and CA) exist only in a pod: put real ones here.
    const pki = await createControlPlanePki(path.join(dir, 'pki'));
    mkdirSync(path.join(dir, 'serviceaccount'));
    writeFileSync(path.join(dir, 'serviceaccount', 'token'), 'not-a-real-token\n');
    copyFileSync(pki.ca.cert, path.join(dir, 'serviceaccount', 'ca.crt'));
  });

  after(() => {
    if (dir !== '') rmSync(dir, { recursive: true, force: true });
  });

  it('is the same major.minor as the pinned Prometheus image', async (t) => {
    if (requireComponent(t, 'promtool') === undefined) return;
    const { stdout, stderr } = await promtool(['--version']);
    const version = /version (\d+\.\d+)\.\d+/.exec(stdout + stderr)?.[1];
    const imageVersion = /:v(\d+\.\d+)\.\d+$/.exec(images.prometheus)?.[1];
    assert.ok(version !== undefined && imageVersion !== undefined, `versions found in '${stdout}${stderr}' and ${images.prometheus}`);
    assert.equal(version, imageVersion);
  });

  for (const kubeletTls of ['insecure', 'verified'] as const) {
    it(`passes 'check config' (kubelet TLS ${kubeletTls}), rule files included`, async (t) => {
      if (requireComponent(t, 'promtool') === undefined) return;
      const options = parseMonitoringOptions({ 'kubelet-tls': kubeletTls });
      const config = prometheusYaml(renderPrometheusConfig({ ...options, nodeExporterNamespace: 'monitoring', rulesGlob: 'rules/tracelab-*.yaml' }));
      const file = path.join(dir, `prometheus-${kubeletTls}.yml`);
      writeFileSync(file, config.replaceAll(serviceAccountDir, path.join(dir, 'serviceaccount')));
      const result = await promtool(['check', 'config', file]);
      assert.equal(result.code, 0, result.stdout + result.stderr);
      assert.match(result.stdout + result.stderr, /SUCCESS: 2 rule files found/);
    });
  }

  it("passes 'check rules' for the recording and alerting rule files", async (t) => {
    if (requireComponent(t, 'promtool') === undefined) return;
    const files = Object.values(ruleFileNames).map((name) => path.join(dir, 'rules', name));
    const result = await promtool(['check', 'rules', ...files]);
    assert.equal(result.code, 0, result.stdout + result.stderr);
    const ruleCount = (name: string) => (parse(renderRuleFiles()[name] ?? '') as RuleFile).groups.reduce((sum, group) => sum + group.rules.length, 0);
    assert.match(result.stdout, new RegExp(`SUCCESS: ${ruleCount(ruleFileNames.recording)} rules found`));
    assert.match(result.stdout, new RegExp(`SUCCESS: ${ruleCount(ruleFileNames.alerting)} rules found`));
  });

  it("passes 'test rules': every alert fires where expected and stays silent elsewhere", async (t) => {
    if (requireComponent(t, 'promtool') === undefined) return;
    const result = await promtool(['test', 'rules', path.join(dir, 'rules', rulesTestFileName)]);
    assert.equal(result.code, 0, result.stdout + result.stderr);
    assert.match(result.stdout + result.stderr, /SUCCESS/);
  });

  it("fails 'test rules' when an alert is expected on the quiet service (the tests can fail)", async (t) => {
    if (requireComponent(t, 'promtool') === undefined) return;
    const tests = renderRulesTests();
    const firing = tests.tests[0]?.alert_rule_test.find((check) => check.exp_alerts.length > 0);
    assert.ok(firing);
    firing.exp_alerts = [{ ...firing.exp_alerts[0], exp_labels: { ...firing.exp_alerts[0]?.exp_labels, service: 'frontend' } } as (typeof firing.exp_alerts)[0]];
    const file = path.join(dir, 'rules', 'broken.test.yaml');
    writeFileSync(file, JSON.stringify(tests));
    const result = await promtool(['test', 'rules', file]);
    assert.notEqual(result.code, 0, 'promtool notices the wrong expectation');
  });
});
