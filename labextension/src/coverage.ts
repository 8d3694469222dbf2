// 培训覆盖: the same figures as `safetrain report`, for a unit the viewer may see, with
// drill-down 区 → 街道 → 社区 and the monthly Excel bundle.
import { Widget } from '@lumino/widgets';

import { Coverage, getBlob, getJSON, Section, UnitDetail, WhoAmI } from './api';
import { barChart } from './charts';
import { h } from './dom';
import { I18n } from './i18n';

export class CoveragePanel extends Widget {
  private code: string;
  private period = '';

  constructor(
    private readonly i18n: I18n,
    private readonly who: WhoAmI
  ) {
    super();
    this.id = 'safetrain-coverage';
    this.title.label = i18n.t('培训覆盖');
    this.title.closable = true;
    this.addClass('st-panel');
    this.code = who.scopes.length ? who.scopes[0].code : '';
    void this.showUnit(this.code);
  }

  async showUnit(code: string): Promise<void> {
    const t = (s: string) => this.i18n.t(s);
    if (!code) {
      this.node.replaceChildren(h('p', { class: 'st-muted' }, t('你没有可查看的单位。请管理员运行 safetrain admin grant。')));
      return;
    }
    this.code = code;
    this.node.replaceChildren(h('p', { class: 'st-muted' }, t('加载中……')));
    try {
      const query = this.period ? `?period=${encodeURIComponent(this.period)}` : '';
      const [unit, figures] = await Promise.all([
        getJSON<UnitDetail>(`units/${code}`),
        getJSON<Coverage>(`coverage/${code}${query}`)
      ]);
      this.period = figures.period;
      this.render(unit, figures);
    } catch (err) {
      this.node.replaceChildren(this.toolbar(null), h('p', { class: 'st-error', 'data-st': 'error' }, String((err as Error).message)));
    }
  }

  private toolbar(unit: UnitDetail | null): HTMLElement {
    const t = (s: string) => this.i18n.t(s);
    const scopes = this.who.scopes.length > 1
      ? h('div', { class: 'st-scopes' }, `${t('查看范围')}：`, this.who.scopes.map(s =>
          h('button', { class: `jp-Button st-button ${s.code === this.code ? 'st-active' : ''}`, onclick: () => void this.showUnit(s.code) }, s.name)))
      : null;
    const crumbs = unit
      ? h('div', { class: 'st-crumbs', 'data-st': 'crumbs' }, [...unit.trail, unit].flatMap((u, i, all) => [
          i ? ' › ' : null,
          i < all.length - 1 ? h('a', { href: '#', onclick: (e: Event) => { e.preventDefault(); void this.showUnit(u.code); } }, u.name) : h('b', {}, u.name)
        ]))
      : null;
    const month = h('input', { type: 'month', value: /^\d{4}-\d{2}$/.test(this.period) ? this.period : '', class: 'st-month' }) as HTMLInputElement;
    month.addEventListener('change', () => {
      this.period = month.value;
      void this.showUnit(this.code);
    });
    return h(
      'div',
      { class: 'st-head' },
      h('h2', {}, t('培训覆盖')),
      scopes,
      crumbs,
      h('label', {}, `${t('月份')} `, month),
      h('button', { class: 'jp-Button st-button', 'data-st': 'download', onclick: () => void this.download() }, t('下载月度报表（Excel）'))
    );
  }

  private render(unit: UnitDetail, c: Coverage): void {
    const children = new Set(unit.children.map(u => u.code));
    this.node.replaceChildren(
      this.toolbar(unit),
      h('p', { class: 'st-muted' }, c.title, unit.children.length ? ` · ${this.i18n.t('点击单位查看下级')}` : ''),
      ...c.sections.map(s => this.section(s, children))
    );
  }

  private section(s: Section, children: Set<string>): HTMLElement {
    const unitIdx = s.unit_column ? s.columns.indexOf(s.unit_column) : -1;
    const drill = (row: (string | number | null)[]) => {
      const code = unitIdx >= 0 ? String(row[unitIdx]) : '';
      return children.has(code) ? () => void this.showUnit(code) : undefined;
    };
    const parts: (HTMLElement | SVGElement)[] = [h('h3', {}, s.title)];
    if (s.note) {
      parts.push(h('p', { class: 'st-muted' }, s.note));
    }
    if (s.chart && s.rows.length) {
      const chart = s.chart;
      const series = chart.values.map(v => {
        const vi = s.columns.indexOf(v);
        return { name: v, values: s.rows.map(r => (r[vi] === null || r[vi] === '' ? null : Number(r[vi]))) };
      });
      parts.push(barChart(chart.labels, series, chart.percent, i => drill(s.rows[i])));
    }
    const body = s.rows.map(row => {
      const go = drill(row);
      return h('tr', go ? { class: 'st-drill', onclick: go } : {}, row.map(v => h('td', {}, v === null ? '' : String(v))));
    });
    parts.push(
      s.rows.length
        ? h('table', { class: 'st-table', 'data-st': `table-${s.key}` }, h('thead', {}, h('tr', {}, s.columns.map(x => h('th', {}, x)))), h('tbody', {}, body))
        : h('p', { class: 'st-empty' }, this.i18n.t('没有记录'))
    );
    return h('section', { class: 'st-section', 'data-st': `section-${s.key}` }, ...parts);
  }

  private async download(): Promise<void> {
    try {
      const query = this.period ? `?period=${encodeURIComponent(this.period)}` : '';
      const blob = await getBlob(`coverage/${this.code}/bundle.xlsx${query}`);
      const url = URL.createObjectURL(blob);
      const a = h('a', { href: url, download: `SafeTrain-${this.code}-${this.period || 'report'}.xlsx` });
      document.body.appendChild(a);
      a.click();
      a.remove();
      setTimeout(() => URL.revokeObjectURL(url), 10000);
    } catch (err) {
      window.alert(String((err as Error).message));
    }
  }
}
