// 我的培训: the trainee's own modules, hours, drills, certificate and deadlines.
import { Widget } from '@lumino/widgets';

import { getJSON, ModuleStatus, RoleStatus, TraineeStatus } from './api';
import { progress } from './charts';
import { append, h, num, table } from './dom';
import { I18n } from './i18n';

export type OpenNotebook = (path: string) => Promise<void>;
export type SaveNotebook = (path: string) => Promise<void>;

interface Problem {
  item: string;
  line: number;
  column: number;
  kind: string;
  message: string;
  blocking: boolean;
}

export class MyTrainingPanel extends Widget {
  constructor(
    private readonly i18n: I18n,
    private readonly openNotebook: OpenNotebook,
    private readonly saveNotebook: SaveNotebook = async () => undefined
  ) {
    super();
    this.id = 'safetrain-my-training';
    this.title.label = i18n.t('我的培训');
    this.title.closable = true;
    this.addClass('st-panel');
    void this.refresh();
  }

  async refresh(): Promise<void> {
    const t = (s: string, v?: Record<string, string | number>) => this.i18n.t(s, v);
    this.node.replaceChildren(h('p', { class: 'st-muted' }, t('加载中……')));
    try {
      this.render(await getJSON<TraineeStatus>('me'));
    } catch (err) {
      this.node.replaceChildren(h('p', { class: 'st-error', 'data-st': 'error' }, String((err as Error).message)));
    }
  }

  // Where 检查作答 / 提交 say what they found, and where feedback is shown (text only, or
  // a frame with sandbox="": the feedback page never runs as part of JupyterLab).
  private readonly notes = h('div', { class: 'st-notes', 'data-st': 'notes', 'aria-live': 'polite' });

  private render(s: TraineeStatus): void {
    const t = (x: string, v?: Record<string, string | number>) => this.i18n.t(x, v);
    const head = h(
      'div',
      { class: 'st-head' },
      h('h2', {}, `${t('我的培训')} · ${s.name}`),
      h('span', { class: 'st-muted' }, `${s.login} · ${s.masked_id} · ${t('计算日期')} ${s.as_of}`),
      h('button', { class: 'jp-Button st-button', onclick: () => void this.refresh() }, t('刷新'))
    );
    const posts = s.roles.length
      ? h('p', { class: 'st-posts' }, `${t('岗位')}：`, s.roles.map(r => `${r.role_label} · ${r.unit_path}（${t('自')} ${r.since}）`).join('；'))
      : h('p', { class: 'st-muted' }, t('没有岗位：不在岗人员没有必修要求。'));

    const cards = h(
      'div',
      { class: 'st-cards' },
      this.card(t('近12个月培训学时'), 'hours', `${num(s.hours)} / ${num(s.hours_required)}`, progress(s.hours, s.hours_required)),
      this.card(t('本年度学时'), 'hours-year', num(s.hours_this_year)),
      this.card(t('近12个月演练'), 'drills', `${s.drills} / ${s.drills_required}`, progress(s.drills, s.drills_required)),
      ...s.roles.map(r => this.card(`${t('持证状态')} · ${r.role_label}`, `cert-${r.role}`, r.status_label, undefined, `st-status-${r.status}`))
    );
    this.node.replaceChildren(
      head,
      posts,
      cards,
      ...s.roles.map(r => this.roleBlock(r)),
      h('h3', {}, t('必修模块')),
      this.modules(s.modules, Boolean(s.hub)),
      this.notes,
      h('h3', {}, t('培训记录（近12个月）')),
      table(
        [t('日期'), t('培训'), t('形式'), t('签到'), t('学时')],
        s.sessions.map(x => [x.held_on, x.title, x.kind, x.status, num(x.hours)]),
        t('没有记录')
      ),
      h('h3', {}, t('参加的演练')),
      table(
        [t('日期'), t('演练'), t('类型'), t('角色'), t('签到')],
        s.drill_list.map(x => [x.held_on, `${x.title}（${x.code}）`, x.drill_type, x.role, x.status]),
        t('没有记录')
      )
    );
  }

  private card(label: string, key: string, value: string, extra?: HTMLElement, cls = ''): HTMLElement {
    return h(
      'div',
      { class: `st-card ${cls}` },
      h('div', { class: 'st-card-label' }, label),
      h('div', { class: 'st-card-value', 'data-st': key }, value),
      extra
    );
  }

  private roleBlock(r: RoleStatus): HTMLElement {
    const t = (x: string, v?: Record<string, string | number>) => this.i18n.t(x, v);
    const facts: (HTMLElement | null)[] = [];
    if (r.certificate) {
      facts.push(h('li', {}, `${t('证书编号')} ${r.certificate}，${t('有效期至')} `, h('b', { 'data-st': `valid-until-${r.role}` }, r.valid_until || '')));
    }
    if (r.deadline && (r.status === 'onboarding' || r.status === 'overdue')) {
      const days = r.days_to_deadline ?? 0;
      const left = days >= 0 ? t('还剩 {n} 天', { n: days }) : t('已逾期 {n} 天', { n: -days });
      facts.push(h('li', { class: days >= 0 ? '' : 'st-error' }, `${t('岗前培训期限')} `, h('b', { 'data-st': `deadline-${r.role}` }, r.deadline), `（${left}）`));
    }
    const block = h(
      'div',
      { class: `st-role st-status-${r.status}` },
      h('h3', {}, `${r.role_label} · ${r.unit_path}：`, h('span', { class: 'st-badge' }, r.status_label))
    );
    const list = h('ul', {}, facts);
    append(list, r.reasons.map(reason => h('li', {}, reason)));
    block.appendChild(list);
    return block;
  }

  private modules(modules: ModuleStatus[], hub: boolean): HTMLElement {
    const t = (x: string) => this.i18n.t(x);
    const rows = modules.map(m => {
      const best =
        m.best_percent === null ? '—' : `${num(m.best_score)} / ${num(m.max_score)}（${num(m.best_percent)}%）`;
      const button = hub
        ? this.hubButtons(m)
        : h(
            'button',
            { class: 'jp-Button st-button', 'data-module': m.id, onclick: () => void this.open(m.id) },
            m.status === 'not_started' ? t('打开') : t('继续')
          );
      return [
        h('span', {}, m.title, m.required ? null : h('span', { class: 'st-muted' }, `（${t('非必修')}）`)),
        `${num(m.pass_mark)}%`,
        h('span', { class: `st-badge st-module-${m.status}`, 'data-st': `module-${m.id}` }, m.status_label),
        best,
        this.attempts(m),
        m.last_graded || '—',
        button
      ];
    });
    return table([t('模块'), t('及格线'), t('状态'), t('最好成绩'), t('已用 / 剩余次数'), t('最近评分'), ''], rows, t('没有记录'));
  }

  // Attempts used and left; while the cooldown runs, when the next submission is graded.
  private attempts(m: ModuleStatus): HTMLElement {
    const t = (x: string, v?: Record<string, string | number>) => this.i18n.t(x, v);
    if (m.attempts_left === undefined) {
      return h('span', {}, String(m.attempts));
    }
    const cell = h('span', { 'data-st': `attempts-${m.id}` }, `${m.attempts_used} / ${m.attempts_left}`);
    if (m.next_attempt_at) {
      const when = new Date(m.next_attempt_at).toLocaleString();
      cell.appendChild(h('div', { class: 'st-muted' }, t('下次提交在 {when} 之后才评分', { when })));
    } else if (m.attempts_left === 0 && m.status !== 'passed') {
      cell.appendChild(h('div', { class: 'st-error' }, t('次数已用完，请联系管理员')));
    }
    return cell;
  }

  // On a hub: 获取 (the released notebook into MODULE/MODULE.ipynb, never over one's work),
  // 检查作答 (answers parsed, not run), 提交 (saved, checked, handed to the records service),
  // 反馈 once something was graded.
  private hubButtons(m: ModuleStatus): HTMLElement {
    const t = (x: string) => this.i18n.t(x);
    const button = (label: string, action: string, fn: () => Promise<void>) =>
      h('button', { class: 'jp-Button st-button', 'data-module': m.id, 'data-action': action, onclick: () => void fn() }, label);
    return h(
      'span',
      { class: 'st-actions' },
      button(t('获取'), 'fetch', () => this.open(m.id)),
      button(t('检查作答'), 'check', async () => void (await this.check(m.id))),
      button(t('提交'), 'submit', () => this.submit(m.id)),
      m.attempts > 0 || m.best_percent !== null ? button(t('反馈'), 'feedback', () => this.feedback(m.id)) : null
    );
  }

  private say(cls: string, title: string, lines: string[] = []): void {
    this.notes.replaceChildren(h('p', { class: cls, 'data-st': 'note' }, title));
    if (lines.length) {
      this.notes.appendChild(h('ul', {}, lines.map(x => h('li', { 'data-st': 'problem' }, x))));
    }
    this.notes.scrollIntoView({ block: 'nearest' });
  }

  private async check(module: string): Promise<boolean> {
    const t = (x: string, v?: Record<string, string | number>) => this.i18n.t(x, v);
    try {
      await this.saveNotebook(`${module}/${module}.ipynb`);
      const res = await getJSON<{ problems: Problem[]; ready: boolean }>(`me/modules/${module}/check`);
      if (!res.problems.length) {
        this.say('st-ok', t('检查作答：{module} 没有发现问题，可以提交。', { module }));
      } else {
        const head = res.ready
          ? t('检查作答：{module} 可以提交，但请看下面的提示：', { module })
          : t('检查作答：{module} 有必须改正的地方（改好并保存后再提交）：', { module });
        this.say(res.ready ? 'st-warn' : 'st-error', head, res.problems.map(p => p.message));
      }
      return res.ready;
    } catch (err) {
      this.say('st-error', String((err as Error).message));
      return false;
    }
  }

  private async submit(module: string): Promise<void> {
    const t = (x: string, v?: Record<string, string | number>) => this.i18n.t(x, v);
    if (!(await this.check(module))) {
      return;
    }
    if (!window.confirm(t('提交 {module}？提交后以服务器收到的时间为准。', { module }))) {
      return;
    }
    try {
      const res = await getJSON<{ received: string; problems: Problem[] }>(`me/modules/${module}/submit`, { method: 'POST' });
      const when = new Date(res.received).toLocaleString();
      await this.refresh();
      this.say('st-ok', t('已提交 {module}（服务器收到时间 {when}），等待评分。', { module, when }), res.problems.map(p => p.message));
    } catch (err) {
      this.say('st-error', String((err as Error).message));
    }
  }

  private async feedback(module: string): Promise<void> {
    const t = (x: string, v?: Record<string, string | number>) => this.i18n.t(x, v);
    try {
      const res = await getJSON<{ html: string }>(`me/modules/${module}/feedback`);
      const frame = h('iframe', {
        class: 'st-feedback',
        sandbox: '',
        referrerpolicy: 'no-referrer',
        title: t('{module} 的反馈', { module }),
        'data-st': 'feedback'
      }) as HTMLIFrameElement;
      frame.srcdoc = res.html;
      this.notes.replaceChildren(h('h3', {}, t('{module} 的反馈', { module })), frame);
    } catch (err) {
      this.say('st-error', String((err as Error).message));
    }
  }

  private async open(module: string): Promise<void> {
    try {
      const res = await getJSON<{ path: string }>(`me/modules/${module}/open`, { method: 'POST' });
      await this.openNotebook(res.path);
    } catch (err) {
      window.alert(String((err as Error).message));
    }
  }
}
