// Interface text: Chinese, or English when both JupyterLab and the browser are in English.
// (JupyterLab without a language pack reports "en" whatever the user reads, so its setting
// alone does not mean English.)
import { ITranslator } from '@jupyterlab/translation';

const EN: Record<string, string> = {
  '我的培训': 'My training',
  '培训覆盖': 'Training coverage',
  'SafeTrain 培训': 'SafeTrain',
  '加载中……': 'Loading…',
  '刷新': 'Refresh',
  '计算日期': 'As of',
  '岗位': 'Posts',
  '自': 'since',
  '近12个月培训学时': 'Training hours, last 12 months',
  '本年度学时': 'Hours this year',
  '要求': 'required',
  '近12个月演练': 'Drills, last 12 months',
  '持证状态': 'Certificate',
  '证书编号': 'Certificate no.',
  '有效期至': 'Valid until',
  '岗前培训期限': 'Onboarding deadline',
  '还剩 {n} 天': '{n} days left',
  '已逾期 {n} 天': '{n} days overdue',
  '尚缺': 'Still missing',
  '必修模块': 'Required modules',
  '模块': 'Module',
  '及格线': 'Pass mark',
  '状态': 'Status',
  '最好成绩': 'Best score',
  '提交次数': 'Attempts',
  '已用 / 剩余次数': 'Attempts used / left',
  '下次提交在 {when} 之后才评分': 'next submission graded after {when}',
  '次数已用完，请联系管理员': 'No attempts left: ask an administrator',
  '最近评分': 'Last graded',
  '打开': 'Open',
  '继续': 'Continue',
  '培训记录（近12个月）': 'Training sessions (last 12 months)',
  '日期': 'Date',
  '培训': 'Session',
  '形式': 'Kind',
  '签到': 'Presence',
  '学时': 'Hours',
  '参加的演练': 'Drills taken part in',
  '演练': 'Drill',
  '类型': 'Type',
  '角色': 'Role',
  '没有记录': 'No records',
  '没有岗位：不在岗人员没有必修要求。': 'No current post: no requirements apply.',
  '查看范围': 'Units you may see',
  '下载月度报表（Excel）': 'Download monthly report (Excel)',
  '月份': 'Month',
  '下级单位': 'Units below',
  '点击单位查看下级': 'Click a unit to see the units below it',
  '你没有可查看的单位。请管理员运行 safetrain admin grant。':
    'You may not see any unit. Ask an administrator to run safetrain admin grant.',
  '已打开': 'Opened',
  '非必修': 'optional',
  '获取': 'Fetch',
  '检查作答': 'Check answers',
  '提交': 'Hand in',
  '反馈': 'Feedback',
  '检查作答：{module} 没有发现问题，可以提交。': 'Check: no problems found in {module}; ready to hand in.',
  '检查作答：{module} 可以提交，但请看下面的提示：': 'Check: {module} can be handed in, but note:',
  '检查作答：{module} 有必须改正的地方（改好并保存后再提交）：': 'Check: fix these in {module} (then save and hand in):',
  '提交 {module}？提交后以服务器收到的时间为准。': 'Hand in {module}? The time the server receives it counts.',
  '已提交 {module}（服务器收到时间 {when}），等待评分。': 'Handed in {module} (received {when}); waiting to be graded.',
  '{module} 的反馈': 'Feedback on {module}'
};

export class I18n {
  readonly english: boolean;

  constructor(translator: ITranslator | null) {
    const lab = (translator?.languageCode || 'en').toLowerCase();
    const browser = (navigator.language || 'zh').toLowerCase();
    this.english = lab.startsWith('en') && browser.startsWith('en');
  }

  t(text: string, vars: Record<string, string | number> = {}): string {
    let out = this.english ? EN[text] || text : text;
    for (const [key, value] of Object.entries(vars)) {
      out = out.replace(`{${key}}`, String(value));
    }
    return out;
  }
}
